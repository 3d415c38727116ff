// Library-wide functions, the exception hierarchy, the record conversions,
// option defaults, CancelToken, Client, move semantics and the double-include check.
#include "common.hpp"

#include <cstring>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

using namespace mongoelector;
using namespace std::chrono_literals;

std::string double_include_a();
std::string double_include_b();

// ---- compile-time properties of the handle types ----
static_assert(!std::is_copy_constructible_v<Client> && !std::is_copy_assignable_v<Client>);
static_assert(!std::is_copy_constructible_v<Locker> && !std::is_copy_assignable_v<Locker>);
static_assert(!std::is_copy_constructible_v<LeaderElector> && !std::is_copy_assignable_v<LeaderElector>);
static_assert(std::is_nothrow_move_constructible_v<Client> && std::is_nothrow_move_assignable_v<Client>);
static_assert(std::is_nothrow_move_constructible_v<Locker> && std::is_nothrow_move_assignable_v<Locker>);
static_assert(std::is_nothrow_move_constructible_v<LeaderElector> && std::is_nothrow_move_assignable_v<LeaderElector>);
static_assert(!std::is_copy_constructible_v<CancelToken> && std::is_nothrow_move_constructible_v<CancelToken>);
static_assert(std::is_convertible_v<const CancelToken&, Cancel>);
static_assert(std::is_base_of_v<std::runtime_error, Error>);
static_assert(noexcept(std::declval<Locker&>().unlock()));

TEST(Basics, DoubleIncludeLinksAndWorks) {
    EXPECT_EQ(double_include_a(), version() + "|from a");
    EXPECT_EQ(double_include_b(), version() + "|from b");
}

TEST(Basics, VersionMatchesTheHeaderMacros) {
    std::string expected = std::to_string(ME_VERSION_MAJOR) + "." + std::to_string(ME_VERSION_MINOR) + "." +
                           std::to_string(ME_VERSION_PATCH);
    EXPECT_EQ(version(), expected);
    EXPECT_EQ(version(), std::string(::me_version()));
}

TEST(Basics, StatusNames) {
    EXPECT_EQ(status_name(ME_OK), "ME_OK");
    EXPECT_EQ(status_name(ME_ERR_LOCK_EXISTS), "ME_ERR_LOCK_EXISTS");
    EXPECT_EQ(status_name(ME_ERR_INTERNAL), "ME_ERR_INTERNAL");
    EXPECT_EQ(status_name(12345), "ME_UNKNOWN");
    EXPECT_EQ(status_name(-1), "ME_UNKNOWN");
}

// Each status throws its own class, which is also an Error and a std::runtime_error.
template <class E>
void expect_maps(me_status status) {
    SCOPED_TRACE(status_name(status));
    try {
        detail::throw_error(status, "the message");
        FAIL() << "nothing thrown";
    } catch (const E& e) {
        EXPECT_EQ(e.status(), status);
        EXPECT_STREQ(e.what(), "the message");
        EXPECT_STREQ(e.status_name(), status_name(status).c_str());
        const Error& base = e;
        EXPECT_EQ(base.status(), status);
        const std::runtime_error& rt = e;
        EXPECT_STREQ(rt.what(), "the message");
    }
}

TEST(Errors, EachStatusHasItsClass) {
    expect_maps<InvalidArgument>(ME_ERR_INVALID_ARGUMENT);
    expect_maps<LockExists>(ME_ERR_LOCK_EXISTS);
    expect_maps<AcquireTimeout>(ME_ERR_ACQUIRE_TIMEOUT);
    expect_maps<TimeOffsetError>(ME_ERR_TIME_OFFSET);
    expect_maps<NotOwned>(ME_ERR_NOT_OWNED);
    expect_maps<DatabaseError>(ME_ERR_DATABASE);
    expect_maps<InvalidState>(ME_ERR_INVALID_STATE);
    expect_maps<Cancelled>(ME_ERR_CANCELLED);
    expect_maps<Closed>(ME_ERR_CLOSED);
    expect_maps<InternalError>(ME_ERR_INTERNAL);
    expect_maps<Error>(static_cast<me_status>(42));
    // The classes are distinct: a LockExists is not an AcquireTimeout.
    EXPECT_THROW(
        {
            try {
                detail::throw_error(ME_ERR_LOCK_EXISTS, "x");
            } catch (const AcquireTimeout&) {
                FAIL() << "wrong class";
            }
        },
        LockExists);
}

TEST(Errors, CallReadsStatusAndMessageFromTheError) {
    me_client* raw = nullptr;
    EXPECT_NO_THROW(detail::call(::me_client_new, "mongodb://127.0.0.1:1/", &raw));
    ASSERT_NE(raw, nullptr);
    ::me_client_free(raw);
    raw = nullptr;
    // The same failing call in C and through detail::call: the same message.
    me_error* err = nullptr;
    ASSERT_EQ(::me_client_new(nullptr, &raw, &err), ME_ERR_INVALID_ARGUMENT);
    std::string c_message = ::me_error_message(err);
    ::me_error_free(err);
    EXPECT_FALSE(c_message.empty());
    try {
        detail::call(::me_client_new, static_cast<const char*>(nullptr), &raw);
        FAIL() << "nothing thrown";
    } catch (const InvalidArgument& e) {
        EXPECT_EQ(std::string(e.what()), c_message);
        EXPECT_EQ(std::string(e.what()).rfind("mongoelector:", 0), std::string::npos) << "doubled prefix";
    }
    EXPECT_EQ(raw, nullptr);
}

// ---- records: C structs to C++ values ----

TEST(Records, CurrentLockConverts) {
    me_current_lock c{};
    c.key = "k";
    c.locked = true;
    c.host = "h";
    c.uuid = "u";
    c.pid = 7;
    c.ts_created_ms = 1795701600007LL;
    c.ts_expire_ms = 1795701610007LL;
    c.fence = 3;
    CurrentLock v = detail::convert(c);
    EXPECT_EQ(v.key, "k");
    EXPECT_TRUE(v.locked);
    EXPECT_EQ(v.host, "h");
    EXPECT_EQ(v.uuid, "u");
    EXPECT_EQ(v.pid, 7);
    EXPECT_EQ(metest::unix_ms(v.ts_created), 1795701600007LL);
    EXPECT_EQ(v.ts_expire - v.ts_created, 10s);
    EXPECT_EQ(v.fence, 3);
    EXPECT_EQ(detail::from_unix_ms(-1).time_since_epoch(), -1ms);
}

TEST(Records, MissingValuesAreNullopt) {
    me_lock_status l{};
    l.uuid = "u";
    l.key = "k";
    l.ttl = 1.5;
    l.timestamp_ms = 1000;
    l.host = "h";
    l.pid = 9;
    l.lock_owned = false;
    LockStatus free_view = detail::convert(l);
    EXPECT_EQ(free_view.ttl, 1.5s);
    EXPECT_EQ(metest::unix_ms(free_view.timestamp), 1000);
    EXPECT_FALSE(free_view.lock_owned);
    EXPECT_FALSE(free_view.lock_created || free_view.lock_expires || free_view.fence);
    l.lock_owned = true;
    l.lock_created_ms = 2000;
    l.lock_expires_ms = 3000;
    l.fence = 4;
    LockStatus owned = detail::convert(l);
    EXPECT_EQ(metest::unix_ms(owned.lock_created.value()), 2000);
    EXPECT_EQ(metest::unix_ms(owned.lock_expires.value()), 3000);
    EXPECT_EQ(owned.fence, std::optional<std::int64_t>(4));

    me_node_status members[2] = {};
    members[0].lock = l;
    members[0].is_leader = true;
    members[0].elector_running = true;
    members[0].has_last_poll = true;
    members[0].last_poll_ms = 5000;
    members[0].app_version = "1.0";
    members[1].lock = l;
    NodeStatus n = detail::convert(members[0]);
    EXPECT_TRUE(n.is_leader && n.elector_running);
    EXPECT_EQ(metest::unix_ms(n.last_poll.value()), 5000);
    EXPECT_EQ(n.app_version, std::optional<std::string>("1.0"));
    EXPECT_EQ(n.lock.key, "k");
    NodeStatus quiet = detail::convert(members[1]);
    EXPECT_FALSE(quiet.last_poll.has_value());
    EXPECT_FALSE(quiet.app_version.has_value());

    me_cluster_detail d{};
    d.members = members;
    d.member_count = 2;
    d.timestamp_ms = 6000;
    ClusterDetail none = detail::convert(d);
    EXPECT_EQ(none.members.size(), 2u);
    EXPECT_FALSE(none.leader.has_value());
    EXPECT_EQ(metest::unix_ms(none.timestamp), 6000);
    d.has_leader = true;
    d.leader.host = "lh";
    d.leader.process_id = 11;
    d.leader.uuid = "lu";
    d.leader.fence = 12;
    ClusterDetail led = detail::convert(d);
    ASSERT_TRUE(led.leader.has_value());
    EXPECT_EQ(led.leader->host, "lh");
    EXPECT_EQ(led.leader->process_id, 11);
    EXPECT_EQ(led.leader->uuid, "lu");
    EXPECT_EQ(led.leader->fence, 12);
}

// ---- options: unset means the library's default ----

TEST(Options, UnsetOptionsKeepTheLibrarysDefaults) {
    me_locker_options c;
    ::me_locker_options_init(&c);
    Client client(metest::uri());  // sends nothing: creating handles is local
    Locker lock(client, "cpp_defaults", "k");
    EXPECT_EQ(lock.dbcollection(), std::string(c.dbcollection));
    EXPECT_EQ(lock.ttl(), Seconds(c.ttl));
    EXPECT_EQ(lock.timeparanoid(), c.timeparanoid);
    EXPECT_EQ(lock.maxoffset(), Seconds(c.maxoffset));
    EXPECT_EQ(lock.db_name(), "cpp_defaults");

    LockerOptions set;
    set.dbcollection = "other";
    set.ttl = 90s;
    set.timeparanoid = !c.timeparanoid;
    set.maxoffset = 250ms;
    Locker custom(client, "cpp_defaults", "k", set);
    EXPECT_EQ(custom.dbcollection(), "other");
    EXPECT_EQ(custom.ttl(), 90s);
    EXPECT_EQ(custom.timeparanoid(), !c.timeparanoid);
    EXPECT_EQ(custom.maxoffset(), 250ms);

    me_elector_options ce;
    ::me_elector_options_init(&ce);
    LeaderElector e(client, "cpp_defaults", "el");
    EXPECT_EQ(e.ttl(), Seconds(ce.ttl));
    ElectorOptions eo;
    eo.ttl = 7s;
    EXPECT_EQ(LeaderElector(client, "cpp_defaults", "el", eo).ttl(), 7s);
}

// ---- CancelToken ----

TEST(CancelTokenTest, CancelIsObservedAndMovedFromIsEmpty) {
    CancelToken t;
    ASSERT_TRUE(t);
    EXPECT_FALSE(t.is_cancelled());
    EXPECT_FALSE(t.wait_for(10ms));
    t.cancel();
    t.cancel();  // idempotent
    EXPECT_TRUE(t.is_cancelled());
    EXPECT_TRUE(t.wait_for(10s));
    CancelToken u(std::move(t));
    EXPECT_FALSE(t);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(t.capi(), nullptr);
    EXPECT_NO_THROW(t.cancel());
    EXPECT_FALSE(t.is_cancelled());
    EXPECT_THROW(t.wait_for(1s), InvalidState);
    EXPECT_THROW(Cancel{t}, InvalidState);
    EXPECT_TRUE(u.is_cancelled());
    EXPECT_EQ(Cancel().capi(), nullptr);
}

// ---- Client ----

TEST(ClientTest, BadUriIsInvalidArgumentOrDatabaseError) {
    EXPECT_THROW(Client("not a uri"), Error);
    try {
        Client c("http://example.com");
        FAIL() << "accepted a non-mongodb URI";
    } catch (const InvalidArgument&) {
    } catch (const DatabaseError&) {
    }
}

TEST(ClientTest, UnreachableServerIsADatabaseError) {
    Client client("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300");
    Locker lock(client, "cpp_unreachable", "k", metest::short_ttl());
    EXPECT_THROW(lock.locked(), DatabaseError);
    EXPECT_THROW(lock.acquire(metest::opts(true, 1s)), Error);
}

TEST(ClientTest, MoveLeavesAnInertObject) {
    Client a(metest::uri());
    ASSERT_TRUE(a);
    const me_client* raw = a.capi();
    Client b(std::move(a));
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from state is specified
    EXPECT_EQ(a.capi(), nullptr);
    EXPECT_EQ(b.capi(), raw);
    EXPECT_THROW(Locker(a, "db", "k"), InvalidState);
    Client c(metest::uri());
    c = std::move(b);  // frees c's own pool
    EXPECT_EQ(c.capi(), raw);
    Client& self = c;
    c = std::move(self);
    EXPECT_EQ(c.capi(), raw);
    Locker lock(c, metest::db_name(), "k", metest::short_ttl());
    EXPECT_FALSE(lock.locked());
}

TEST(ClientTest, LockersOutliveTheirClient) {
    std::optional<Client> client(std::in_place, metest::uri());
    Locker lock(*client, metest::db_name(), "k", metest::short_ttl());
    client.reset();
    lock.acquire();
    EXPECT_TRUE(lock.owned());
    lock.release();
    EXPECT_FALSE(lock.owned());
}

// ---- logging ----

TEST(Logging, HandlerReceivesLibraryMessagesAndCanBeReset) {
    struct Seen {
        std::mutex m;
        std::vector<std::pair<LogLevel, std::string>> lines;
    };
    auto seen = std::make_shared<Seen>();
    set_log_handler(
        [seen](LogLevel level, const std::string& msg) {
            std::lock_guard<std::mutex> g(seen->m);
            seen->lines.emplace_back(level, msg);
        },
        LogLevel::Trace);
    detail::log(static_cast<int>(LogLevel::Warn), "hello from the test");
    {
        Client client(metest::uri());
        Locker lock(client, metest::db_name(), "k", metest::short_ttl());
        lock.acquire();
        lock.release();
    }
    set_log_handler(nullptr);
    detail::log(static_cast<int>(LogLevel::Warn), "after reset (printed to stderr)");
    std::lock_guard<std::mutex> g(seen->m);
    bool ours = false;
    for (auto& [level, msg] : seen->lines) {
        if (msg == "hello from the test") ours = level == LogLevel::Warn;
        EXPECT_NE(msg, "after reset (printed to stderr)");
    }
    EXPECT_TRUE(ours);
}

TEST(Logging, AThrowingHandlerIsContained) {
    set_log_handler([](LogLevel, const std::string&) { throw std::runtime_error("handler failed"); }, LogLevel::Trace);
    EXPECT_NO_THROW(detail::log(static_cast<int>(LogLevel::Error), "goes to stderr instead"));
    {
        Client client(metest::uri());
        Locker lock(client, metest::db_name(), "k", metest::short_ttl());
        EXPECT_NO_THROW(lock.acquire());
        EXPECT_NO_THROW(lock.release());
    }
    set_log_handler(nullptr);
}
