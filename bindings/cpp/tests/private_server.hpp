// A private FerretDB (scripts/test-server run DIR) that a test can freeze
// with SIGSTOP: shared by the frozen-server tests.
#pragma once

#include "common.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

extern char** environ;

namespace metest {

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

}  // namespace metest
