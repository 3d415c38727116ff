// Cross-language elector (C++): see tests/README.md.
//   me_elector URI DB KEY TTL_S RUN_S      (RUN_S 0: until SIGTERM/SIGINT)
// Prints "leader cpp <pid> <mono_ns>" / "loss cpp <pid> <mono_ns>" per event,
// flushed; on SIGTERM/SIGINT or after RUN_S it stops the elector (releasing
// leadership, which fires "loss" if leading) and exits 0.
#include <mongoelector.hpp>

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {
void emit(const char* what) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch());
    std::printf("%s cpp %ld %lld\n", what, static_cast<long>(::getpid()), static_cast<long long>(ns.count()));
    std::fflush(stdout);
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s URI DB KEY TTL_S RUN_S\n", argv[0]);
        return 64;
    }
    // Block the signals before any thread exists (the elector thread inherits
    // the mask), then wait for them synchronously: no async handler needed.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    const double run_s = std::atof(argv[5]);
    try {
        mongoelector::Client client(argv[1]);
        mongoelector::ElectorOptions options;
        options.ttl = mongoelector::Seconds(std::atof(argv[4]));
        options.on_leader = [] { emit("leader"); };
        options.on_leader_loss = [] { emit("loss"); };
        mongoelector::LeaderElector elector(client, argv[2], argv[3], options);
        elector.start();
        if (run_s > 0) {
            timespec left;
            left.tv_sec = static_cast<time_t>(run_s);
            left.tv_nsec = static_cast<long>((run_s - static_cast<double>(left.tv_sec)) * 1e9);
            auto deadline = std::chrono::steady_clock::now() + mongoelector::Seconds(run_s);
            while (sigtimedwait(&signals, nullptr, &left) < 0 && errno == EINTR) {
                auto rest = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now());
                if (rest.count() <= 0) break;
                left.tv_sec = static_cast<time_t>(rest.count() / 1000000000);
                left.tv_nsec = static_cast<long>(rest.count() % 1000000000);
            }
        } else {
            int sig = 0;
            sigwait(&signals, &sig);
        }
        elector.stop();
    } catch (const mongoelector::Error& e) {
        std::fprintf(stderr, "me_elector (cpp): %s: %s\n", e.status_name(), e.what());
        return 1;
    }
    return 0;
}
