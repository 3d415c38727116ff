// try_lock() on a hung server: a private FerretDB (scripts/test-server run
// DIR), frozen with SIGSTOP. try_lock() makes one attempt bounded by
// kTryLockBound, so it must return (false) or throw within that bound, not
// the library's 5-30 s per-call limit.
#include "common.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>
#include <future>
#include <string>

extern char** environ;

using namespace mongoelector;
using namespace std::chrono_literals;

namespace {

/// A FerretDB of the test's own, in its own process group; killed (after a
/// SIGCONT) by the destructor. Start-up is bounded by `limit`.
class PrivateServer {
public:
    explicit PrivateServer(std::chrono::seconds limit = std::chrono::seconds(120)) {
        char tmpl[] = "/tmp/me-cpp-frozen-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
        dir_ = tmpl;
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        out_ = fds[0];
        std::string script = std::string(MONGOELECTOR_ROOT_DIR) + "/scripts/test-server";
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attr, 0);
        std::string run = "run";
        char* argv[] = {script.data(), run.data(), dir_.data(), nullptr};
        int rc = ::posix_spawn(&pid_, script.c_str(), &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        ::close(fds[1]);
        if (rc != 0) {
            pid_ = -1;
            throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
        }
        // The first stdout line is the URI, within `limit`.
        auto deadline = std::chrono::steady_clock::now() + limit;
        std::string line;
        while (line.find('\n') == std::string::npos) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) throw std::runtime_error("the test server printed no URI in time");
            pollfd p{out_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[256];
            ssize_t n = ::read(out_, buf, sizeof buf);
            if (n <= 0) throw std::runtime_error("the test server exited before printing its URI");
            line.append(buf, static_cast<std::size_t>(n));
        }
        line.resize(line.find('\n'));
        while (!line.empty() && line.back() == '/') line.pop_back();
        uri_ = line + "/?directConnection=true&serverSelectionTimeoutMS=5000";
    }
    PrivateServer(const PrivateServer&) = delete;
    PrivateServer& operator=(const PrivateServer&) = delete;
    ~PrivateServer() {
        if (pid_ > 0) {
            ::kill(-pid_, SIGCONT);
            ::kill(-pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        if (out_ >= 0) ::close(out_);
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    const std::string& uri() const { return uri_; }
    void freeze() const { ::kill(-pid_, SIGSTOP); }
    void thaw() const { ::kill(-pid_, SIGCONT); }

private:
    std::string dir_;
    std::string uri_;
    pid_t pid_ = -1;
    int out_ = -1;
};

}  // namespace

TEST(FrozenServer, TryLockReturnsWithinItsBound) {
    PrivateServer server;
    std::optional<Client> client(std::in_place, server.uri());
    std::string db = metest::db_name();
    std::optional<Locker> lock(std::in_place, *client, db, "frozen", metest::short_ttl());
    std::optional<Locker> holder(std::in_place, *client, db, "frozen", metest::short_ttl());
    EXPECT_TRUE(lock->try_lock());  // the server works; connections are made
    EXPECT_TRUE(lock->release());

    server.freeze();
    // Generous margin over the documented bound, far below the 5-30 s call limit.
    const double limit = std::chrono::duration<double>(kTryLockBound).count() + 2.0;
    for (int i = 0; i < 2; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        std::string outcome;
        try {
            outcome = lock->try_lock() ? "acquired" : "false";
        } catch (const Error& e) {
            outcome = std::string("threw ") + e.status_name() + ": " + e.what();
        }
        double took = metest::seconds_since(t0);
        EXPECT_NE(outcome, "acquired");
        EXPECT_LT(took, limit) << "try_lock() on a frozen server took " << took << " s (" << outcome << ")";
        RecordProperty("try_lock_outcome_" + std::to_string(i), outcome);
    }

    // A cancelled call returns promptly whatever it waits on: here a round trip.
    CancelToken token;
    auto waiting = std::async(std::launch::async, [&] {
        try {
            holder->lock(token);
            return std::string("acquired");
        } catch (const Error& e) {
            return std::string(e.status_name());
        }
    });
    std::this_thread::sleep_for(300ms);
    auto t0 = std::chrono::steady_clock::now();
    token.cancel();
    ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
    EXPECT_LT(metest::seconds_since(t0), 0.5);
    EXPECT_EQ(waiting.get(), "ME_ERR_CANCELLED");

    server.thaw();
    lock.reset();
    holder.reset();
    client.reset();
}
