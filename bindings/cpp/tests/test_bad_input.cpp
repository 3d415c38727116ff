// Bad input and misuse through the C++ API (issue 8; the C-ABI twin is
// tests/reliability/test_bad_input.py): every case throws the exception class
// of the status the C ABI returns, with a message, or works when the input is
// only odd-looking; nothing crashes or hangs; and no data of another key is
// touched: before each test a locker of its own holds the key "victim", and
// after the test it still holds it with the same fence and the same current().
#include "common.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cmath>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace mongoelector;
using namespace std::chrono_literals;
using metest::opts;
using metest::short_ttl;
using metest::uri;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string head(const std::string& s) { return s.size() > 200 ? s.substr(0, 200) + "..." : s; }

/// Success if `f` throws one of the classes Es with a non-empty what();
/// otherwise says what happened.
template <class... Es, class F>
::testing::AssertionResult Throws(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        if (!(... || (dynamic_cast<const Es*>(&e) != nullptr)))
            return ::testing::AssertionFailure() << "threw " << e.status_name() << ": " << head(e.what());
        if (std::string(e.what()).empty())
            return ::testing::AssertionFailure() << e.status_name() << " without a message";
        return ::testing::AssertionSuccess() << e.status_name() << ": " << head(e.what());
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << "threw a std::exception that is no mongoelector::Error: " << e.what();
    }
    return ::testing::AssertionFailure() << "nothing thrown";
}

/// Success if `f` returns normally; otherwise names the exception.
template <class F>
::testing::AssertionResult Works(F&& f) {
    try {
        f();
        return ::testing::AssertionSuccess();
    } catch (const Error& e) {
        return ::testing::AssertionFailure() << "threw " << e.status_name() << ": " << head(e.what());
    }
}

LockerOptions with_ttl(Seconds ttl) {
    LockerOptions o = short_ttl();
    o.ttl = ttl;
    return o;
}

ElectorOptions elector_ttl(Seconds ttl) {
    ElectorOptions o;
    o.ttl = ttl;
    return o;
}

/// A TCP port on 127.0.0.1 that nobody listens on (bound, then closed).
int closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ADD_FAILURE() << "could not find a free port";
        if (fd >= 0) ::close(fd);
        return 1;
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

using metest::seconds_since;
using metest::unix_ms;

/// The sentinel: a lock of another key, held across the test's barrage.
struct BadInputTest : metest::ServerTest {
    Locker victim{client, db, "victim", short_ttl(300)};
    CurrentLock before;

    void SetUp() override {
        victim.acquire(opts(false));
        auto cur = victim.current();
        ASSERT_TRUE(cur.has_value());
        before = *cur;
    }

    /// A fresh locker's view (no state shared with `victim`) of the victim key.
    void expect_victim_untouched() {
        SCOPED_TRACE("the victim key");
        EXPECT_TRUE(victim.owned());
        EXPECT_EQ(victim.fence(), before.fence);
        Locker probe(client, db, "victim", short_ttl());
        auto now = probe.current();
        ASSERT_TRUE(now.has_value()) << "the victim's lock is gone";
        EXPECT_EQ(now->key, before.key);
        EXPECT_TRUE(now->locked);
        EXPECT_EQ(now->uuid, before.uuid);
        EXPECT_EQ(now->uuid, victim.uuid());
        EXPECT_EQ(now->host, before.host);
        EXPECT_EQ(now->pid, before.pid);
        EXPECT_EQ(now->fence, before.fence);
        EXPECT_EQ(unix_ms(now->ts_created), unix_ms(before.ts_created));
        EXPECT_EQ(unix_ms(now->ts_expire), unix_ms(before.ts_expire));  // nobody renewed it either
    }

    void TearDown() override { expect_victim_untouched(); }
};

}  // namespace

TEST_F(BadInputTest, KeysThatAreNoKeys) {
    const std::string bad_keys[] = {
        "",
        "\xff\xfe" "ab",                   // not UTF-8
        std::string("victim\0tail", 11),  // a NUL would cut it to "victim": another key
    };
    for (const std::string& key : bad_keys) {
        SCOPED_TRACE(testing::PrintToString(key));
        EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)Locker(client, db, key, short_ttl()); }));
        EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)LeaderElector(client, db, key, elector_ttl(4s)); }));
    }
}

TEST_F(BadInputTest, KeysThatLookLikeOperatorsPathsOrIdsArePlainStrings) {
    const std::string keys[] = {"$where", "a.b", R"({"$gt":""})", "$gt", "victim#1", "victim#0", "victim.",
                                std::string(1 << 20, 'x'), "\xc3\xa9\xf0\x9f\x94\x92\\u0000"};
    for (const std::string& key : keys) {
        SCOPED_TRACE(head(key));
        Locker lock(client, db, key, short_ttl());
        Locker other(client, db, key, short_ttl());
        EXPECT_TRUE(lock.key() == key);
        EXPECT_FALSE(other.locked()) << "a fresh key looks held";
        ASSERT_TRUE(Works([&] { lock.acquire(opts(true, 10s)); }));
        EXPECT_TRUE(lock.owned());
        auto cur = other.current();
        ASSERT_TRUE(cur.has_value());
        EXPECT_TRUE(cur->key == key) << "current() names " << head(cur->key);
        EXPECT_EQ(cur->uuid, lock.uuid());
        EXPECT_EQ(cur->fence, lock.fence());
        EXPECT_FALSE(other.try_lock()) << "the same key is not the same lock";
        ASSERT_TRUE(Works([&] { EXPECT_TRUE(lock.release()); }));
        EXPECT_FALSE(other.locked());
        EXPECT_FALSE(other.current().has_value());
    }
    // The elector of such a key leads on it (electors lock in "elector.locks").
    LeaderElector e(client, db, "$where", elector_ttl(4s));
    e.poll();
    EXPECT_TRUE(e.is_leader());
    EXPECT_EQ(e.locker().key(), "$where");
    LockerOptions elector_locks = short_ttl();
    elector_locks.dbcollection = "elector.locks";
    Locker same(client, db, "$where", elector_locks);
    auto cur = same.current();
    ASSERT_TRUE(cur.has_value());
    EXPECT_EQ(cur->key, "$where");
    EXPECT_EQ(cur->uuid, e.locker().uuid());
}

TEST_F(BadInputTest, TtlsThatAreNoLease) {
    const Seconds bad[] = {Seconds(0.0), Seconds(-0.0), Seconds(-1.0), Seconds(kNaN),
                           Seconds(kInf), Seconds(-kInf), Seconds(1e300)};
    for (Seconds ttl : bad) {
        SCOPED_TRACE(ttl.count());
        EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)Locker(client, db, "k", with_ttl(ttl)); }));
        EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)LeaderElector(client, db, "el", elector_ttl(ttl)); }));
    }
    // Integer durations convert to Seconds: zero and negative ones are refused the same way.
    EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)Locker(client, db, "k", with_ttl(0ms)); }));
    EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)Locker(client, db, "k", with_ttl(-5s)); }));
    EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)Locker(client, db, "k", with_ttl(std::chrono::nanoseconds(-1))); }));
    EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)LeaderElector(client, db, "el", elector_ttl(0s)); }));
    EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)LeaderElector(client, db, "el", elector_ttl(-1min)); }));
}

TEST_F(BadInputTest, TinyTtlsHugeKeysAndAutoRenewWithoutMargin) {
    // A ttl shorter than a round trip could never be acquired: refused.
    for (Seconds tiny : {Seconds(1e-9), Seconds(0.0005), Seconds(0.001), Seconds(0.099)}) {
        SCOPED_TRACE(tiny.count());
        EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)Locker(client, db, "k", with_ttl(tiny)); }));
        EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)LeaderElector(client, db, "el", elector_ttl(tiny)); }));
    }
    EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)Locker(client, db, "k", with_ttl(1ms)); }));
    EXPECT_TRUE(Works([&] { (void)Locker(client, db, "k", with_ttl(100ms)); }));

    // A key the server could not store (2 MiB) is refused up front, with a short message.
    const std::string huge(2u << 20, 'k');
    for (int elector = 0; elector < 2; ++elector) {
        SCOPED_TRACE(elector ? "elector" : "locker");
        try {
            if (elector)
                (void)LeaderElector(client, db, huge, elector_ttl(4s));
            else
                (void)Locker(client, db, huge, short_ttl());
            ADD_FAILURE() << "a 2 MiB key was accepted";
        } catch (const InvalidArgument& e) {
            EXPECT_LT(std::string(e.what()).size(), 1000u) << head(e.what());
        }
    }

    // auto_renew needs ttl > 2 x maxoffset: the library refuses less.
    LockerOptions o = with_ttl(1s);
    o.maxoffset = 500ms;
    o.auto_renew = true;
    EXPECT_TRUE(Throws<InvalidArgument>([&] {
        Locker l(client, db, "k", o);
        l.acquire(opts(false));
    }));
}

TEST_F(BadInputTest, TimeoutsAndSteps) {
    Locker lock(client, db, "args", short_ttl());
    struct Case {
        const char* what;
        bool blocking;
        std::optional<Seconds> timeout;
        Seconds step;
    };
    const Case bad[] = {
        {"timeout -2 s", true, Seconds(-2.0), 250ms},
        {"timeout -1 s", true, Seconds(-1.0), 250ms},
        {"timeout -1 ms", true, Seconds(-0.001), 250ms},
        {"timeout NaN", true, Seconds(kNaN), 250ms},
        {"timeout -inf", true, Seconds(-kInf), 250ms},
        {"timeout +inf", true, Seconds(kInf), 250ms},
        {"step NaN", true, 1s, Seconds(kNaN)},
        {"step -1 s", true, 1s, Seconds(-1.0)},
        {"step -inf", true, 1s, Seconds(-kInf)},
        {"step +inf", true, 1s, Seconds(kInf)},
        {"step NaN, no timeout", true, std::nullopt, Seconds(kNaN)},
        {"non-blocking with timeout -1 s", false, Seconds(-1.0), 250ms},
        {"non-blocking with timeout NaN", false, Seconds(kNaN), 250ms},
    };
    for (const Case& c : bad) {
        SCOPED_TRACE(c.what);
        EXPECT_TRUE(Throws<InvalidArgument>([&] { lock.acquire(opts(c.blocking, c.timeout, c.step)); }));
        EXPECT_TRUE(Throws<InvalidArgument>([&] { lock.acquire(opts(c.blocking, c.timeout, c.step, true)); }));
    }
    // The standard timed interface: NaN is no duration at all, and a duration
    // longer than the library can count (hours::max() is 3e22 s) is refused too.
    EXPECT_TRUE(Throws<InvalidArgument>([&] { lock.try_lock_for(Seconds(kNaN)); }));
    EXPECT_TRUE(Throws<InvalidArgument>([&] { lock.try_lock_for(std::chrono::hours::max()); }));
    EXPECT_FALSE(lock.locked()) << "a refused acquire took the lock";
    // The extremes of the standard durations and time points: a past deadline
    // is one try (time_point::min() - now would overflow), a far one waits.
    Locker holder(client, db, "args", short_ttl());
    holder.acquire();
    EXPECT_FALSE(lock.try_lock_until(std::chrono::steady_clock::time_point::min()));
    EXPECT_FALSE(lock.try_lock_until(std::chrono::system_clock::time_point::min()));
    EXPECT_FALSE(lock.try_lock_for(std::chrono::nanoseconds::min()));
    EXPECT_FALSE(lock.try_lock_for(Seconds(-kInf)));
    for (int i = 0; i < 2; ++i) {
        SCOPED_TRACE(i == 0 ? "try_lock_for(a million hours)" : "try_lock_until(time_point::max())");
        std::thread releaser([&] {
            std::this_thread::sleep_for(300ms);
            holder.release();
        });
        bool got = false;
        EXPECT_TRUE(Works([&] {
            got = i == 0 ? lock.try_lock_for(std::chrono::hours(1000000))
                         : lock.try_lock_until(std::chrono::steady_clock::time_point::max());
        }));
        releaser.join();
        EXPECT_TRUE(got);
        EXPECT_TRUE(lock.owned());
        lock.release();
        holder.acquire();
    }

    // Zero step is allowed (the C ABI takes any finite step >= 0): it polls,
    // and still times out and acquires as asked.
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(Throws<AcquireTimeout>([&] { lock.acquire(opts(true, 300ms, 0s)); }));
    EXPECT_LT(seconds_since(t0), 10.0);
    EXPECT_TRUE(holder.owned());
    holder.release();
    EXPECT_TRUE(Works([&] { lock.acquire(opts(true, 10s, 0s)); }));
    EXPECT_TRUE(lock.owned());
    // Zero timeout with blocking: one try.
    EXPECT_TRUE(Throws<AcquireTimeout>([&] { holder.acquire(opts(true, 0s)); }));
    // Non-blocking with a timeout: one attempt bounded by it.
    EXPECT_TRUE(Throws<LockExists>([&] { holder.acquire(opts(false, 0s)); }));
    EXPECT_TRUE(Throws<LockExists>([&] { holder.acquire(opts(false, 1s)); }));
    EXPECT_TRUE(lock.owned());
}

TEST_F(BadInputTest, Uris) {
    const std::string bad[] = {
        "",
        "not a uri",
        "mongodb://\xff\xfe/",
        "mongodb://",
        uri() + std::string("\0junk", 5),  // a NUL would silently cut the URI
    };
    for (const std::string& u : bad) {
        SCOPED_TRACE(testing::PrintToString(u));
        EXPECT_TRUE(Throws<InvalidArgument>([&] { Client c(u); }));
    }

    // Unreachable: a clear DatabaseError (or AcquireTimeout) within a few
    // seconds: the URI's serverSelectionTimeoutMS, the acquire timeout, or (for
    // calls without one) the ttl clamped to 5..30 s bound each call.
    const std::string far = "mongodb://127.0.0.1:" + std::to_string(closed_port());
    {
        Client c(far + "/?serverSelectionTimeoutMS=300");
        Locker lock(c, db, "k", short_ttl());
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_TRUE((Throws<DatabaseError, AcquireTimeout>([&] { lock.acquire(opts(true, 2s)); })));
        EXPECT_TRUE(Throws<DatabaseError>([&] { lock.acquire(opts(false)); }));
        EXPECT_TRUE(Throws<DatabaseError>([&] { lock.locked(); }));
        EXPECT_TRUE(Throws<DatabaseError>([&] { lock.current(); }));
        EXPECT_TRUE(Throws<DatabaseError>([&] { lock.release(); }));
        EXPECT_TRUE(Throws<DatabaseError>([&] { lock.renew(); }));
        LeaderElector e(c, db, "el", elector_ttl(4s));
        EXPECT_TRUE(Throws<DatabaseError>([&] { e.poll(); }));
        EXPECT_FALSE(e.is_leader());
        EXPECT_LT(seconds_since(t0), 10.0);
    }
    {
        Client c(far + "/");  // the driver's own server selection timeout: 30 s
        Locker lock(c, db, "k", short_ttl(5));
        auto t0 = std::chrono::steady_clock::now();
        EXPECT_TRUE((Throws<DatabaseError, AcquireTimeout>([&] { lock.acquire(opts(true, 2s)); })));
        EXPECT_LT(seconds_since(t0), 6.0);
        t0 = std::chrono::steady_clock::now();
        EXPECT_TRUE(Throws<DatabaseError>([&] { lock.locked(); }));
        EXPECT_LT(seconds_since(t0), 10.0);  // 5 s
        LeaderElector e(c, db, "el", elector_ttl(2s));
        t0 = std::chrono::steady_clock::now();
        EXPECT_TRUE(Throws<DatabaseError>([&] { e.poll(); }));
        EXPECT_LT(seconds_since(t0), 10.0);
    }
}

TEST_F(BadInputTest, DatabaseAndCollectionNames) {
    const std::string bad_dbs[] = {"a.b", "", "a$b", "a/b", std::string("db\0x", 4)};
    for (const std::string& name : bad_dbs) {
        SCOPED_TRACE(testing::PrintToString(name));
        EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)Locker(client, name, "k", short_ttl()); }));
        EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)LeaderElector(client, name, "el", elector_ttl(4s)); }));
    }
    const std::string bad_collections[] = {"", "a$b", std::string("mongolocker\0x", 13)};
    for (const std::string& name : bad_collections) {
        SCOPED_TRACE(testing::PrintToString(name));
        LockerOptions o = short_ttl();
        o.dbcollection = name;
        EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)Locker(client, db, "k", o); }));
    }
    ElectorOptions o = elector_ttl(4s);
    o.app_version = std::string("1.0\0x", 5);
    EXPECT_TRUE(Throws<InvalidArgument>([&] { (void)LeaderElector(client, db, "el", o); }));
}

TEST_F(BadInputTest, ElectorStateMisuse) {
    LeaderElector e(client, db, "el", elector_ttl(4s));
    EXPECT_TRUE(Works([&] { e.release(); })) << "release of a stopped elector that never led";
    EXPECT_TRUE(Works([&] { e.stop(); })) << "stop of a stopped elector";
    e.start();
    EXPECT_TRUE(Throws<InvalidState>([&] { e.start(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.start(/*blocking=*/true); }));  // refused, not a second loop
    EXPECT_TRUE(e.running());
    ASSERT_TRUE(metest::eventually([&] { return e.is_leader(); }));

    // Another elector of the group that does not lead: release is a no-op.
    LeaderElector follower(client, db, "el", elector_ttl(4s));
    follower.poll();
    EXPECT_FALSE(follower.is_leader());
    EXPECT_TRUE(Works([&] { follower.release(); }));
    EXPECT_TRUE(Works([&] { follower.stop(); }));
    EXPECT_TRUE(e.is_leader());
    EXPECT_TRUE(follower.leader_exists());

    EXPECT_TRUE(Works([&] { e.stop(); }));
    EXPECT_TRUE(Works([&] { e.stop(); })) << "stop of a stopped elector";
    EXPECT_FALSE(e.running());
    EXPECT_FALSE(e.is_leader());
    EXPECT_TRUE(Works([&] { e.release(); }));
}

TEST_F(BadInputTest, LocksNeverHeld) {
    Locker lock(client, db, "never", short_ttl());
    EXPECT_TRUE(Works([&] { lock.release(); })) << "release of a lock never held (ME_OK in C)";
    EXPECT_FALSE(lock.touch().has_value());
    EXPECT_TRUE(Throws<NotOwned>([&] { lock.renew(); }));
    EXPECT_FALSE(lock.locked());

    // The same on the key someone else holds: nothing happens to that holding.
    Locker intruder(client, db, "victim", short_ttl());
    EXPECT_TRUE(Works([&] { intruder.release(); }));
    EXPECT_FALSE(intruder.touch().has_value());
    EXPECT_TRUE(Throws<NotOwned>([&] { intruder.renew(); }));
    EXPECT_FALSE(intruder.try_lock());
    intruder.unlock();
    EXPECT_TRUE(Throws<LockExists>([&] { intruder.acquire(opts(false)); }));
    expect_victim_untouched();
}

// The C ABI lets me_locker_close (and me_locker_free) race a me_locker_acquire
// waiting on the same handle: the waiter returns ME_ERR_CLOSED. In C++ that is
// destroying the Locker (close, then free) while other threads wait in
// acquire()/lock()/try_lock_for() on it: they throw Closed. This is
// well-defined once they are inside the C call: those methods read the handle
// before calling it and touch nothing of *this afterwards (calls under way
// hold their own reference). No API tells when a thread got there, so as in
// the C-ABI test the waiters flag that they are about to call and the test
// waits 500 ms more before destroying.
TEST_F(BadInputTest, DestroyingALockerWakesItsWaiters) {
    Locker holder(client, db, "contended", short_ttl());
    holder.acquire();
    std::optional<Locker> shared(std::in_place, client, db, "contended", short_ttl());

    struct Outcome {
        std::string result;
        std::chrono::steady_clock::time_point at;
    };
    std::mutex m;
    std::vector<Outcome> outcomes;
    std::atomic<int> entered{0};
    const std::function<void(Locker&)> calls[] = {
        [](Locker& l) { l.acquire(opts(true, std::nullopt, 50ms)); },
        [](Locker& l) { l.lock(); },
        [](Locker& l) {
            if (!l.try_lock_for(60s)) throw std::runtime_error("try_lock_for returned false");
        },
    };
    std::vector<std::thread> threads;
    for (const auto& call : calls) {
        threads.emplace_back([&, call] {
            Locker& l = *shared;
            std::string result = "returned normally";
            ++entered;
            try {
                call(l);
            } catch (const Closed& e) {
                result = std::string("Closed:") + e.what();
            } catch (const std::exception& e) {
                result = std::string("other exception: ") + e.what();
            }
            std::lock_guard<std::mutex> g(m);
            outcomes.push_back({result, std::chrono::steady_clock::now()});
        });
    }
    ASSERT_TRUE(metest::eventually([&] { return entered.load() == 3; }));
    std::this_thread::sleep_for(500ms);
    {
        std::lock_guard<std::mutex> g(m);
        EXPECT_TRUE(outcomes.empty()) << "a waiter returned while the lock was held";
    }
    auto t0 = std::chrono::steady_clock::now();
    shared.reset();
    bool all = metest::eventually(
        [&] {
            std::lock_guard<std::mutex> g(m);
            return outcomes.size() == 3;
        },
        10s);
    EXPECT_TRUE(all) << "waiters still waiting 10 s after the Locker was destroyed";
    if (!all) holder.release();  // let them through so the test ends
    for (auto& t : threads) t.join();
    for (const Outcome& o : outcomes) {
        EXPECT_EQ(o.result.rfind("Closed:", 0), 0u) << o.result;
        EXPECT_GT(o.result.size(), std::string("Closed:").size()) << "no message";
        EXPECT_LT(std::chrono::duration<double>(o.at - t0).count(), 5.0);
    }
    EXPECT_TRUE(holder.owned()) << "destroying a waiter released another's lock";
}

TEST_F(BadInputTest, MovedFromObjectsThrowInvalidState) {
    Client from(uri());
    Client to(std::move(from));
    EXPECT_TRUE(Throws<InvalidState>([&] { from.handle(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { (void)Locker(from, db, "k", short_ttl()); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { (void)LeaderElector(from, db, "el", elector_ttl(4s)); }));

    Locker a(to, db, "moved", short_ttl());
    a.acquire();
    Locker b(std::move(a));
    Locker c(std::move(a));  // moving a moved-from object gives another inert one
    for (Locker* l : {&a, &c}) {
        Locker& x = *l;
        EXPECT_FALSE(x);
        EXPECT_TRUE(Throws<InvalidState>([&] { x.acquire(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.release(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.touch(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.renew(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.locked(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.owned(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.current(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.status(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.key(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.uuid(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.host(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.pid(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.fence(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.ttl(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.ts_expire(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.db_name(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.dbcollection(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.maxoffset(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.timeparanoid(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.close(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.lock(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.try_lock(); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.try_lock_for(1s); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { x.try_lock_until(std::chrono::steady_clock::now() + 1s); }));
        EXPECT_TRUE(Throws<InvalidState>([&] { std::lock_guard<Locker> g(x); }));
        EXPECT_NO_THROW(x.unlock());
    }
    EXPECT_TRUE(b.owned());

    LeaderElector e(to, db, "moved-el", elector_ttl(4s));
    LeaderElector f(std::move(e));
    EXPECT_FALSE(e);
    EXPECT_TRUE(Throws<InvalidState>([&] { e.start(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.stop(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.poll(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.release(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.is_leader(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.leader_exists(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.running(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.poll_wait(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.ttl(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.key(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.locker(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.close(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.node_status(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { e.cluster_detail(); }));
    f.poll();
    EXPECT_TRUE(f.is_leader());

    LockerView nothing(nullptr);
    EXPECT_TRUE(Throws<InvalidState>([&] { nothing.key(); }));
    EXPECT_TRUE(Throws<InvalidState>([&] { nothing.fence(); }));
}
