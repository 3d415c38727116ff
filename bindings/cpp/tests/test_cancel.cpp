// Cancelling calls: a CancelToken (C++17 and later) and, in C++20 builds, a
// std::stop_token. This file is compiled into both test programs.
#include "common.hpp"

#include <future>
#include <string>
#include <thread>

using namespace mongoelector;
using namespace std::chrono_literals;
using metest::opts;
using metest::short_ttl;

namespace {

struct CancelTest : metest::ServerTest {
    Locker holder{client, db, "cancel", short_ttl()};
    Locker waiter{client, db, "cancel", short_ttl()};
    void SetUp() override { holder.acquire(); }
};

/// Runs `call` on another thread, lets it wait, runs `cancel`, and checks the
/// call threw Cancelled within 50 ms and the holder still owns the lock.
template <class Call, class Do>
void expect_cancelled_while_waiting(Locker& holder, Call call, Do cancel) {
    std::atomic<bool> entered{false};
    std::chrono::steady_clock::time_point returned_at;
    auto result = std::async(std::launch::async, [&]() -> std::string {
        entered = true;
        std::string r;
        try {
            call();
            r = "returned";
        } catch (const Cancelled& e) {
            r = std::string("Cancelled:") + e.what();
        } catch (const std::exception& e) {
            r = std::string("other: ") + e.what();
        }
        returned_at = std::chrono::steady_clock::now();
        return r;
    });
    ASSERT_TRUE(metest::eventually([&] { return entered.load(); }));
    std::this_thread::sleep_for(300ms);
    ASSERT_EQ(result.wait_for(0s), std::future_status::timeout) << "the call did not wait";
    auto t0 = std::chrono::steady_clock::now();
    cancel();
    ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
    std::string r = result.get();
    EXPECT_EQ(r.rfind("Cancelled:", 0), 0u) << r;
    EXPECT_LT(std::chrono::duration<double>(returned_at - t0).count(), 0.050) << "not within 50 ms";
    EXPECT_TRUE(holder.owned()) << "cancelling a waiter touched the holder";
}

}  // namespace

TEST_F(CancelTest, TokenCancelsAWaitingAcquire) {
    CancelToken token;
    expect_cancelled_while_waiting(
        holder, [&] { waiter.acquire(opts(true, std::nullopt, 20ms), token); }, [&] { token.cancel(); });
    EXPECT_FALSE(waiter.owned());
    // The token stays cancelled: every later call given it fails at once.
    EXPECT_THROW(waiter.locked(token), Cancelled);
    // Without it the locker works.
    EXPECT_TRUE(waiter.locked());
}

TEST_F(CancelTest, TokenCancelsLockAndTryLockFor) {
    CancelToken a;
    expect_cancelled_while_waiting(
        holder, [&] { waiter.lock(a); }, [&] { a.cancel(); });
    CancelToken b;
    expect_cancelled_while_waiting(
        holder, [&] { (void)waiter.try_lock_for(60s, b); }, [&] { b.cancel(); });
}

TEST_F(CancelTest, TokenCancelledBeforeTheCall) {
    CancelToken token;
    token.cancel();
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(waiter.acquire({}, token), Cancelled);
    EXPECT_THROW(waiter.try_lock(token), Cancelled);
    EXPECT_THROW(holder.release(false, token), Cancelled);
    EXPECT_THROW(holder.renew(token), Cancelled);
    EXPECT_THROW(holder.touch(token), Cancelled);
    EXPECT_THROW(holder.locked(token), Cancelled);
    EXPECT_THROW(holder.owned(token), Cancelled);
    EXPECT_THROW(holder.current(token), Cancelled);
    EXPECT_THROW(holder.status(token), Cancelled);
    LeaderElector e(client, db, "el");
    EXPECT_THROW(e.leader_exists(token), Cancelled);
    EXPECT_THROW(e.node_status(token), Cancelled);
    EXPECT_THROW(e.cluster_detail(token), Cancelled);
    EXPECT_THROW(e.locker().current(token), Cancelled);
    EXPECT_LT(metest::seconds_since(t0), 1.0);
    EXPECT_TRUE(holder.owned());
    // An uncancelled token changes nothing.
    CancelToken fresh;
    EXPECT_TRUE(holder.owned(fresh));
    EXPECT_TRUE(holder.release(false, fresh));
    waiter.acquire({}, fresh);
    EXPECT_TRUE(waiter.owned());
}

TEST_F(CancelTest, FreeingATokenWhileACallUsesItIsSafe) {
    auto token = std::make_unique<CancelToken>();
    std::atomic<bool> entered{false};
    auto result = std::async(std::launch::async, [&] {
        entered = true;
        try {
            waiter.acquire(opts(true, 1s, 20ms), *token);
            return std::string("acquired");
        } catch (const AcquireTimeout&) {
            return std::string("timeout");
        }
    });
    ASSERT_TRUE(metest::eventually([&] { return entered.load(); }));
    std::this_thread::sleep_for(200ms);
    token.reset();  // the call keeps its own reference
    EXPECT_EQ(result.get(), "timeout");
}

#if MONGOELECTOR_HAS_STOP_TOKEN

TEST_F(CancelTest, StopTokenCancelsAWaitingAcquire) {
    std::stop_source source;
    expect_cancelled_while_waiting(
        holder, [&] { waiter.acquire(opts(true, std::nullopt, 20ms), source.get_token()); },
        [&] { source.request_stop(); });
    EXPECT_FALSE(waiter.owned());
}

TEST_F(CancelTest, JthreadRequestStopCancelsLock) {
    std::atomic<bool> entered{false};
    std::atomic<int> outcome{0};  // 1 cancelled, 2 other
    std::chrono::steady_clock::time_point returned_at;
    std::jthread t([&](std::stop_token stop) {
        entered = true;
        try {
            waiter.lock(stop);
        } catch (const Cancelled&) {
            returned_at = std::chrono::steady_clock::now();
            outcome = 1;
            return;
        } catch (...) {
        }
        outcome = 2;
    });
    ASSERT_TRUE(metest::eventually([&] { return entered.load(); }));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(outcome.load(), 0);
    auto t0 = std::chrono::steady_clock::now();
    t.request_stop();
    t.join();
    EXPECT_EQ(outcome.load(), 1);
    EXPECT_LT(std::chrono::duration<double>(returned_at - t0).count(), 0.050);
    EXPECT_TRUE(holder.owned());
}

TEST_F(CancelTest, StopRequestedBeforeTheCall) {
    std::stop_source source;
    source.request_stop();
    EXPECT_THROW(waiter.acquire({}, source.get_token()), Cancelled);
    EXPECT_THROW(waiter.try_lock_for(5s, source.get_token()), Cancelled);
    EXPECT_THROW(holder.locked(source.get_token()), Cancelled);
    // A token without a source can never stop: the call just runs.
    EXPECT_TRUE(holder.owned(std::stop_token()));
    EXPECT_TRUE(holder.owned());
}

#endif  // MONGOELECTOR_HAS_STOP_TOKEN

TEST(Basics, StopTokenSupportFollowsTheStandard) {
#if __cplusplus >= 202002L
    EXPECT_EQ(MONGOELECTOR_HAS_STOP_TOKEN, 1) << "a C++20 build without std::stop_token";
#else
    EXPECT_EQ(MONGOELECTOR_HAS_STOP_TOKEN, 0);
#endif
}
