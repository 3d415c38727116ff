// Helpers shared by the GoogleTest files.
#pragma once

#include <mongoelector.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

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

}  // namespace metest
