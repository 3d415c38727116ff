// Times uncontended acquire()+release() pairs through the C++ binding.
//   me_bench_pairs_cpp URI DB KEY PAIRS WARMUP
// Prints "pairs N median_ns mean_ns p90_ns", as bench/c/pairs.c does.
#include <mongoelector.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s URI DB KEY PAIRS WARMUP\n", argv[0]);
        return 64;
    }
    const int pairs = std::atoi(argv[4]);
    const int warmup = std::atoi(argv[5]);
    try {
        mongoelector::Client client(argv[1]);
        mongoelector::LockerOptions options;
        options.ttl = std::chrono::seconds(60);
        options.timeparanoid = false;
        mongoelector::Locker lock(client, argv[2], argv[3], options);
        std::vector<long long> times;
        times.reserve(static_cast<size_t>(pairs));
        for (int i = 0; i < warmup + pairs; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            lock.acquire(false);
            lock.release();
            const auto dt = std::chrono::steady_clock::now() - t0;
            if (i >= warmup) times.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(dt).count());
        }
        double sum = 0;
        for (long long t : times) sum += static_cast<double>(t);
        std::sort(times.begin(), times.end());
        const size_t n = times.size();
        std::printf("pairs %zu %lld %.0f %lld\n", n, times[n / 2], sum / static_cast<double>(n), times[n * 9 / 10]);
    } catch (const mongoelector::Error& e) {
        std::fprintf(stderr, "pairs (cpp): %s: %s\n", e.status_name(), e.what());
        return 2;
    }
    return 0;
}
