// Times uncontended acquire()+release() pairs through the C++ binding.
//   me_bench_pairs_cpp URI DB KEY PAIRS WARMUP
// Prints "pairs N median_ns mean_ns p90_ns" and "cpu cpu_ns_per_pair", as
// bench/c/pairs.c does with TIMEPARANOID 0: one pair is a non-blocking acquire
// (the lock is free) and a release on one Locker with a 60 s ttl and the clock
// check off; the CPU time is the whole process's (every thread, from
// /proc/self/task/*/schedstat) over the timed pairs.
#include <mongoelector.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

namespace {

// CPU time of the whole process so far, every thread, as bench/c/bench.h's
// process_cpu_ns reads it.
std::int64_t process_cpu_ns() {
    std::error_code ec;
    std::filesystem::directory_iterator it("/proc/self/task", ec);
    if (ec) return -1;
    std::int64_t sum = 0;
    for (const auto& task : it) {
        std::ifstream f(task.path() / "schedstat");
        long long ns = 0;
        if (f >> ns) sum += ns;  // a thread that ended meanwhile counts nothing
    }
    return sum;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s URI DB KEY PAIRS WARMUP\n", argv[0]);
        return 64;
    }
    const int pairs = std::atoi(argv[4]);
    const int warmup = std::atoi(argv[5]);
    if (pairs < 1 || warmup < 0) {
        std::fprintf(stderr, "usage: %s URI DB KEY PAIRS WARMUP (PAIRS >= 1, WARMUP >= 0)\n", argv[0]);
        return 64;
    }
    try {
        mongoelector::Client client(argv[1]);
        mongoelector::LockerOptions options;
        options.ttl = std::chrono::seconds(60);
        options.timeparanoid = false;
        mongoelector::Locker lock(client, argv[2], argv[3], options);
        mongoelector::AcquireOptions once;
        once.blocking = false;  // one attempt: the lock is free
        std::vector<long long> times;
        times.reserve(static_cast<size_t>(pairs));
        std::int64_t cpu0 = 0;
        for (int i = 0; i < warmup + pairs; ++i) {
            if (i == warmup) cpu0 = process_cpu_ns();
            const auto t0 = std::chrono::steady_clock::now();
            lock.acquire(once);
            lock.release();
            const auto dt = std::chrono::steady_clock::now() - t0;
            if (i >= warmup) times.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(dt).count());
        }
        const std::int64_t cpu = process_cpu_ns() - cpu0;
        double sum = 0;
        for (long long t : times) sum += static_cast<double>(t);
        std::sort(times.begin(), times.end());
        const size_t n = times.size();
        std::printf("pairs %zu %lld %.0f %lld\n", n, times[n / 2], sum / static_cast<double>(n), times[n * 9 / 10]);
        std::printf("cpu %lld\n", static_cast<long long>(cpu / pairs));
        lock.close();  // as pairs.c: a failed close is an error, not only a log line
    } catch (const mongoelector::Error& e) {
        std::fprintf(stderr, "pairs (cpp): %s: %s\n", e.status_name(), e.what());
        return 2;
    }
    return 0;
}
