// Work longer than a ttl (issue 15): auto-renewed lockers, the holding's and
// the term's loss token (and the C++20 std::stop_token bridge), on_lost.
// The frozen-server cases run a private FerretDB (private_server.hpp).
#include "private_server.hpp"

#include <atomic>
#include <mutex>

using namespace mongoelector;
using namespace std::chrono_literals;
using metest::PrivateServer;

namespace {

/// The steady clock in ns (0 is "not yet" for the atomics below).
std::int64_t mono_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// An auto-renewed locker's options: the lease a holder counts on is ttl
/// minus twice maxoffset.
LockerOptions renewing(Seconds ttl, std::atomic<std::int64_t>* lost_at = nullptr) {
    LockerOptions o;
    o.ttl = ttl;
    o.maxoffset = 100ms;
    o.auto_renew = true;
    if (lost_at != nullptr) o.on_lost = [lost_at] { lost_at->store(mono_ns()); };
    return o;
}

ElectorOptions elector_ttl(Seconds ttl) {
    ElectorOptions o;
    o.ttl = ttl;
    return o;
}

}  // namespace

struct LongWork : metest::ServerTest {};

TEST_F(LongWork, AnAutoRenewedJobOfFiveTtlsIsHeldThroughout) {
    const Seconds ttl = 1s;
    Locker a(client, db, "job", renewing(ttl));
    Locker b(client, db, "job", metest::short_ttl(ttl.count()));
    EXPECT_FALSE(a.held());
    EXPECT_FALSE(a.lease().has_value()) << "never held: no lease";
    a.lock();
    const std::int64_t fence = a.fence();
    std::optional<Lease> lease = a.lease();
    ASSERT_TRUE(lease.has_value());
    EXPECT_EQ(lease->fence, fence);
#if MONGOELECTOR_HAS_STOP_TOKEN
    StopBridge stop(lease->token);
    std::stop_token st = stop.get_token();
#endif
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < ttl * 5) {
        ASSERT_TRUE(a.held()) << "not held after " << metest::seconds_since(t0) << " s";
        ASSERT_FALSE(b.try_lock()) << "taken after " << metest::seconds_since(t0) << " s";
        EXPECT_FALSE(lease->token.stop_requested());
        std::this_thread::sleep_for(150ms);
    }
    EXPECT_TRUE(a.owned());
    EXPECT_EQ(a.fence(), fence);
    EXPECT_EQ(a.lease()->fence, fence);
    EXPECT_FALSE(lease->token.is_cancelled());
    EXPECT_FALSE(lease->token.wait_for(10ms));
#if MONGOELECTOR_HAS_STOP_TOKEN
    EXPECT_FALSE(st.stop_requested());
#endif
    EXPECT_GE(a.stats().renewals, 10u) << "renewed every ttl/4";

    EXPECT_TRUE(a.release());
    EXPECT_TRUE(lease->token.is_cancelled()) << "a release ends the lease";
    EXPECT_FALSE(a.held());
#if MONGOELECTOR_HAS_STOP_TOKEN
    EXPECT_TRUE(metest::eventually([&] { return st.stop_requested(); }, 5s)) << "the bridge never stopped";
#endif
    EXPECT_TRUE(b.try_lock());
    EXPECT_EQ(a.stats().losses, 0u);
}

TEST_F(LongWork, AForcedTakeoverEndsTheHoldingWithinARenewalPeriod) {
    const Seconds ttl = 2s;
    std::atomic<std::int64_t> lost_at{0};
    Locker a(client, db, "job", renewing(ttl, &lost_at));
    Locker b(client, db, "job", metest::short_ttl(ttl.count()));
    a.lock();
    std::optional<Lease> lease = a.lease();
    ASSERT_TRUE(lease.has_value());
#if MONGOELECTOR_HAS_STOP_TOKEN
    StopBridge stop(lease->token);
#endif
    b.acquire(metest::opts(true, 10s, {}, true));  // force
    const std::int64_t taken = mono_ns();
    EXPECT_TRUE(lease->token.wait_for(ttl / 4 + 1s)) << "the takeover was not seen within a renewal period";
    EXPECT_FALSE(a.held());
    EXPECT_TRUE(metest::eventually([&] { return lost_at.load() != 0; }, 2s)) << "on_lost never ran";
    EXPECT_GE(lost_at.load(), taken);
#if MONGOELECTOR_HAS_STOP_TOKEN
    EXPECT_TRUE(metest::eventually([&] { return stop.stop_requested(); }, 2s));
#endif
    EXPECT_TRUE(b.owned()) << "the old holder never renews over the taker";
    Stats s = a.stats();
    EXPECT_EQ(s.losses, 1u);
    EXPECT_EQ(s.takeovers_seen, 1u);
    EXPECT_EQ(s.lease_left, Seconds::zero());
}

TEST_F(LongWork, OnLostThatThrowsIsCaughtAndLogged) {
    std::mutex m;
    std::vector<std::string> logged;
    set_log_handler([&](LogLevel, const std::string& msg) {
        std::lock_guard<std::mutex> g(m);
        logged.push_back(msg);
    });
    {
        LockerOptions o = renewing(2s);
        o.on_lost = [] { throw std::runtime_error("boom from on_lost"); };
        Locker a(client, db, "job", o);
        Locker b(client, db, "job", metest::short_ttl(2));
        a.lock();
        b.acquire(metest::opts(true, 10s, {}, true));
        std::optional<Lease> lease = a.lease();
        ASSERT_TRUE(lease.has_value());
        EXPECT_TRUE(lease->token.wait_for(5s));
        EXPECT_TRUE(metest::eventually(
            [&] {
                std::lock_guard<std::mutex> g(m);
                for (const auto& l : logged)
                    if (l.find("boom from on_lost") != std::string::npos) return true;
                return false;
            },
            5s));
    }
    set_log_handler(nullptr);
}

TEST_F(LongWork, TheTermTokenEndsAtReleaseAndStop) {
    const Seconds ttl = 1s;
    LeaderElector e(client, db, "svc", elector_ttl(ttl));
    EXPECT_FALSE(e.term().has_value()) << "not leading: no term";
    e.start();
    ASSERT_TRUE(metest::eventually([&] { return e.is_leader(); }, 10s));
    std::optional<Lease> term = e.term();
    ASSERT_TRUE(term.has_value());
    EXPECT_EQ(term->fence, e.locker().fence());
#if MONGOELECTOR_HAS_STOP_TOKEN
    std::optional<StopBridge> stop(std::in_place, term->token);
#endif
    std::this_thread::sleep_for(ttl * 2);
    EXPECT_FALSE(term->token.stop_requested()) << "renewals keep the term";
    e.release();
    EXPECT_TRUE(term->token.is_cancelled()) << "release ends the term";
#if MONGOELECTOR_HAS_STOP_TOKEN
    EXPECT_TRUE(metest::eventually([&] { return stop->stop_requested(); }, 5s));
#endif
    ASSERT_TRUE(metest::eventually([&] { return e.is_leader(); }, 10s));
    term = e.term();
    ASSERT_TRUE(term.has_value());
#if MONGOELECTOR_HAS_STOP_TOKEN
    stop.emplace(term->token);
    std::stop_token st = stop->get_token();
#endif
    e.stop();
    EXPECT_TRUE(term->token.is_cancelled()) << "stop ends the term";
    EXPECT_FALSE(e.term().has_value());
#if MONGOELECTOR_HAS_STOP_TOKEN
    EXPECT_TRUE(metest::eventually([&] { return st.stop_requested(); }, 5s));
    stop.reset();
    EXPECT_TRUE(st.stop_requested()) << "the stop_token outlives its bridge";
#endif
}

#if MONGOELECTOR_HAS_STOP_TOKEN
TEST(StopBridgeTest, StopsAtCancelAndJoinsPromptlyWhenNot) {
    CancelToken token;
    auto t0 = std::chrono::steady_clock::now();
    {
        StopBridge never(token);
        EXPECT_FALSE(never.stop_requested());
    }
    EXPECT_LT(metest::seconds_since(t0), 2.0) << "the destructor joins within a slice";

    std::optional<StopBridge> bridge(std::in_place, token);
    std::stop_token st = bridge->get_token();
    std::atomic<bool> woke{false};
    std::stop_callback cb(st, [&] { woke = true; });
    token.cancel();
    EXPECT_TRUE(metest::eventually([&] { return woke.load(); }, 5s));
    // The token may go before the bridge: the thread holds its own reference.
    token = CancelToken(nullptr);
    bridge.reset();
    EXPECT_TRUE(st.stop_requested());
    EXPECT_THROW(StopBridge{token}, InvalidState) << "a moved-from token";
}
#endif

// ---- a frozen server: the loss comes on time, before the lease ends ----

TEST(FrozenServer, AnAutoRenewedHoldingIsLostBeforeItsLeaseEnds) {
    PrivateServer server;
    Client client(server.uri());
    std::string db = metest::db_name();
    const Seconds ttl = 2s;
    std::atomic<std::int64_t> lost_at{0};
    Locker a(client, db, "job", renewing(ttl, &lost_at));
    a.lock();
    std::this_thread::sleep_for(ttl);  // a few renewals
    ASSERT_TRUE(a.held());
    const std::int64_t fence = a.fence();
    std::optional<Lease> lease = a.lease();
    ASSERT_TRUE(lease.has_value());
#if MONGOELECTOR_HAS_STOP_TOKEN
    StopBridge stop(lease->token);
#endif
    const std::int64_t frozen = mono_ns();
    const std::int64_t ttl_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(ttl).count();
    server.freeze();
    ASSERT_TRUE(lease->token.wait_for(ttl * 2)) << "the loss never came";
    const std::int64_t token_at = mono_ns();
    EXPECT_LT(token_at, frozen + ttl_ns) << "cancelled " << static_cast<double>(token_at - frozen) / 1e9 << " s after the freeze";
    EXPECT_TRUE(metest::eventually([&] { return lost_at.load() != 0; }, 2s));
    EXPECT_LT(lost_at.load(), frozen + ttl_ns);
    EXPECT_FALSE(a.held());
#if MONGOELECTOR_HAS_STOP_TOKEN
    EXPECT_TRUE(metest::eventually([&] { return stop.stop_requested(); }, 2s));
#endif
    server.thaw();
    Locker b(client, db, "job", metest::short_ttl(ttl.count()));
    b.acquire(metest::opts(true, 20s, 50ms));
    EXPECT_GT(b.fence(), fence);
    std::this_thread::sleep_for(ttl / 2);
    EXPECT_TRUE(b.owned()) << "the first holder renewed over the new one";
    EXPECT_GE(a.stats().losses, 1u);
}

/// The term token ends on time with the server frozen; the leader turns
/// unhealthy, and healthy again after SIGCONT.
TEST(FrozenServer, TheTermEndsAndTheLeaderIsUnhealthyWhileFrozen) {
    PrivateServer server;
    Client client(server.uri());
    std::string db = metest::db_name();
    const Seconds ttl = 2s;
    LeaderElector e(client, db, "svc", elector_ttl(ttl));
    Health h = e.healthy();
    EXPECT_FALSE(h.ok);
    EXPECT_EQ(h.reason, "not running");
    e.start();
    ASSERT_TRUE(metest::eventually([&] { return e.is_leader(); }, 10s));
    h = e.healthy();
    EXPECT_TRUE(h);
    EXPECT_EQ(h.reason, "leading");
    std::optional<Lease> term = e.term();
    ASSERT_TRUE(term.has_value());
#if MONGOELECTOR_HAS_STOP_TOKEN
    StopBridge stop(term->token);
#endif
    const auto frozen = std::chrono::steady_clock::now();
    server.freeze();
    ASSERT_TRUE(term->token.wait_for(ttl * 2)) << "the term token never ended";
    EXPECT_LT(metest::seconds_since(frozen), ttl.count()) << "the term outlived its lease";
    EXPECT_FALSE(e.is_leader());
#if MONGOELECTOR_HAS_STOP_TOKEN
    EXPECT_TRUE(metest::eventually([&] { return stop.stop_requested(); }, 2s));
#endif
    EXPECT_TRUE(metest::eventually([&] { return !e.healthy().ok; }, std::chrono::duration_cast<std::chrono::milliseconds>(ttl * 2)))
        << "still healthy with the server frozen: " << e.healthy().reason;
    RecordProperty("frozen_reason", std::string(e.healthy().reason));
    server.thaw();
    EXPECT_TRUE(metest::eventually([&] { return e.healthy().reason == "leading"; }, 30s))
        << "not healthy after SIGCONT: " << e.healthy().reason;
    e.stop();
    EXPECT_EQ(e.healthy().reason, "not running");
}
