// Helpers shared by the GoogleTest files.
#pragma once

#include <mongoelector.hpp>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace metest {

/// The test server's URI; the database tests fail (not skip) without it.
inline std::string uri() {
    const char* u = std::getenv("MONGOELECTOR_TEST_URI");
    if (u == nullptr || *u == '\0') {
        ADD_FAILURE() << "MONGOELECTOR_TEST_URI is not set (bindings/cpp/test.sh sets it)";
        return "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100";
    }
    return u;
}

/// A database name of its own for the running test: [A-Za-z0-9_-], at most 63 chars.
inline std::string db_name() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string raw = std::string("cpp_") + (info ? info->test_suite_name() : "x") + "_" + (info ? info->name() : "y");
    std::string name;
    for (char c : raw) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        name += ok ? c : '_';
    }
    std::string suffix = "_" + std::to_string(::getpid());
    if (name.size() + suffix.size() > 63) name.resize(63 - suffix.size());
    return name + suffix;
}

/// Waits (generously) until `pred` holds; returns whether it did.
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
}

/// Fixture of the database tests: a client on the test server and a database
/// of the running test's own.
struct ServerTest : ::testing::Test {
    mongoelector::Client client{uri()};
    std::string db = db_name();
};

/// Locker options for tests: a short ttl keeps a crashed test from blocking the next.
inline mongoelector::LockerOptions short_ttl(double seconds = 30) {
    mongoelector::LockerOptions o;
    o.ttl = mongoelector::Seconds(seconds);
    return o;
}

/// AcquireOptions in one expression (C++17 has no designated initializers).
inline mongoelector::AcquireOptions opts(std::optional<bool> blocking, std::optional<mongoelector::Seconds> timeout = {},
                                         std::optional<mongoelector::Seconds> step = {},
                                         std::optional<bool> force = {}) {
    mongoelector::AcquireOptions o;
    o.blocking = blocking;
    o.timeout = timeout;
    o.step = step;
    o.force = force;
    return o;
}

/// Seconds elapsed since `t0` on the steady clock.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline std::int64_t unix_ms(mongoelector::TimePoint t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

/// Runs server_docs.py (pymongo, bounded by `timeout`) and returns its
/// "field value" lines as a map; empty when python3 or pymongo is missing.
inline std::map<std::string, std::string> server_docs(const std::vector<std::string>& args) {
    std::string cmd = "timeout 60 python3 '" METEST_SOURCE_DIR "/server_docs.py'";
    for (const std::string& a : args) cmd += " '" + a + "'";
    std::map<std::string, std::string> out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return out;
    char line[4096];
    while (std::fgets(line, sizeof line, p) != nullptr) {
        std::string l(line);
        if (!l.empty() && l.back() == '\n') l.pop_back();
        auto sp = l.find(' ');
        if (sp != std::string::npos) out[l.substr(0, sp)] = l.substr(sp + 1);
    }
    int rc = ::pclose(p);
    if (rc != 0) {
        if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 77)) ADD_FAILURE() << "server_docs.py failed: " << rc;
        out.clear();
    } else if (out.empty()) {
        ADD_FAILURE() << "server_docs.py found no document for " << cmd;
    }
    return out;
}

/// The head document of `key` in `collection`.
inline std::map<std::string, std::string> server_lock_doc(const std::string& uri, const std::string& db,
                                                          const std::string& collection, const std::string& key) {
    return server_docs({uri, db, "lock", collection, key});
}

/// The status report of the elector whose lock has `uuid`.
inline std::map<std::string, std::string> server_status_doc(const std::string& uri, const std::string& db,
                                                            const std::string& uuid) {
    return server_docs({uri, db, "status", uuid});
}

}  // namespace metest
