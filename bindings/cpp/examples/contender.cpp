// Cross-language contender (C++): see tests/README.md.
//   me_contender URI DB KEY ITERATIONS HOLD_MS LOGFILE
// ITERATIONS times: blocking acquire of KEY (ttl 10 s, default step), hold it
// HOLD_MS, release, then append "cpp <pid> <fence> <start_ns> <end_ns>" to
// LOGFILE with one write() (start/end from CLOCK_MONOTONIC, i.e. steady_clock).
#include <mongoelector.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {
long long mono_ns() {
    return static_cast<long long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 7) {
        std::fprintf(stderr, "usage: %s URI DB KEY ITERATIONS HOLD_MS LOGFILE\n", argv[0]);
        return 64;
    }
    const int iterations = std::atoi(argv[4]);
    const long hold_ms = std::atol(argv[5]);
    const int log = ::open(argv[6], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (log < 0) {
        std::perror(argv[6]);
        return 1;
    }
    try {
        mongoelector::Client client(argv[1]);
        mongoelector::LockerOptions options;
        options.ttl = std::chrono::seconds(10);
        mongoelector::Locker lock(client, argv[2], argv[3], options);
        for (int i = 0; i < iterations; ++i) {
            lock.acquire();  // blocking, no timeout, default step
            const long long start = mono_ns();
            std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
            const long long end = mono_ns();
            const std::int64_t fence = lock.fence();
            lock.release();  // errors are thrown, not swallowed as unlock() would
            std::string line = "cpp " + std::to_string(::getpid()) + " " + std::to_string(fence) + " " +
                               std::to_string(start) + " " + std::to_string(end) + "\n";
            if (::write(log, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
                std::perror("write");
                return 1;
            }
        }
    } catch (const mongoelector::Error& e) {
        std::fprintf(stderr, "me_contender (cpp): %s: %s\n", e.status_name(), e.what());
        return 1;
    }
    ::close(log);
    return 0;
}
