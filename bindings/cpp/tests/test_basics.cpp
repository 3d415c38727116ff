// Library-wide functions, the exception hierarchy, the JSON and time decoding,
// option defaults, Client, move semantics and the double-include check.
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

TEST(Errors, CheckUsesTheLibrarysMessage) {
    EXPECT_NO_THROW(detail::check(ME_OK));
    // A real failing call: the message comes from me_last_error_message().
    me_client* raw = nullptr;
    me_status s = ::me_client_new(nullptr, &raw);
    ASSERT_EQ(s, ME_ERR_INVALID_ARGUMENT);
    std::string c_message = ::me_last_error_message();
    EXPECT_FALSE(c_message.empty());
    try {
        detail::check(s);
        FAIL() << "nothing thrown";
    } catch (const InvalidArgument& e) {
        EXPECT_EQ(std::string(e.what()), c_message);
    }
}

// ---- JSON reader ----

TEST(Json, ParsesEveryKind) {
    auto v = detail::parse_json(
        R"( {"s":"a\"b\\c\/\n\t\u00e9\ud83d\ude00","t":true,"f":false,"n":null,"i":-42,"big":9007199254740993,)"
        R"("d":1.5e3,"z":0,"arr":[1,[2],{"x":[]}],"o":{"k":"v"},"e":{}} )");
    ASSERT_EQ(v.type, detail::Json::Type::Object);
    EXPECT_EQ(v.find("s")->string, "a\"b\\c/\n\t\xc3\xa9\xf0\x9f\x98\x80");
    EXPECT_TRUE(v.find("t")->boolean);
    EXPECT_EQ(v.find("f")->type, detail::Json::Type::Bool);
    EXPECT_FALSE(v.find("f")->boolean);
    EXPECT_TRUE(v.find("n")->is_null());
    EXPECT_TRUE(v.find("i")->is_integer);
    EXPECT_EQ(v.find("i")->integer, -42);
    EXPECT_EQ(v.find("big")->integer, 9007199254740993LL);  // exact, not through a double
    EXPECT_FALSE(v.find("d")->is_integer);
    EXPECT_DOUBLE_EQ(v.find("d")->number, 1500.0);
    EXPECT_EQ(v.find("z")->integer, 0);
    const auto& arr = *v.find("arr");
    ASSERT_EQ(arr.items.size(), 3u);
    EXPECT_EQ(arr.items[1].items[0].integer, 2);
    EXPECT_EQ(arr.items[2].find("x")->type, detail::Json::Type::Array);
    EXPECT_EQ(v.find("o")->find("k")->string, "v");
    EXPECT_EQ(v.find("e")->keys.size(), 0u);
    EXPECT_EQ(v.find("missing"), nullptr);
    EXPECT_EQ(detail::parse_json("[]").items.size(), 0u);
    EXPECT_TRUE(detail::parse_json("null").is_null());
}

TEST(Json, RejectsMalformedText) {
    for (const char* bad : {"", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "[1 2]", "tru", "nul", "\"abc", "\"\\x\"",
                            "\"\\ud800\"", "\"\\u12\"", "01a", "-", "1.", "1e", "{} x", "{a:1}", "\"\x01\""}) {
        SCOPED_TRACE(bad);
        EXPECT_THROW(detail::parse_json(bad), InternalError);
    }
    std::string deep(200, '[');
    EXPECT_THROW(detail::parse_json(deep), InternalError);
}

TEST(Time, ParsesRfc3339) {
    using std::chrono::milliseconds;
    auto ms = [](const char* s) {
        return std::chrono::duration_cast<milliseconds>(detail::parse_rfc3339(s).time_since_epoch()).count();
    };
    EXPECT_EQ(ms("1970-01-01T00:00:00.000Z"), 0);
    EXPECT_EQ(ms("2000-02-29T00:00:00.123Z"), 951782400123LL);
    EXPECT_EQ(ms("2026-11-26T14:00:00.007Z"), 1795701600007LL);
    EXPECT_EQ(ms("1969-12-31T23:59:59.999Z"), -1);
    EXPECT_EQ(ms("2026-11-26T14:00:00Z"), 1795701600000LL);
    EXPECT_EQ(ms("2026-11-26T15:30:00.5+01:30"), 1795701600500LL);
    EXPECT_EQ(ms("2026-11-26T12:00:00-02:00"), 1795701600000LL);
    auto ns = detail::parse_rfc3339("1970-01-01T00:00:01.123456789Z").time_since_epoch();
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::nanoseconds>(ns).count(), 1123456789LL);
    for (const char* bad : {"", "2026-11-26", "2026-11-26T14:00:00", "2026-13-01T00:00:00Z", "2026-11-26 14:00:00Z",
                            "2026-11-26T14:00:00.Z", "2026-11-26T14:00:00Zjunk", "x026-11-26T14:00:00Z"}) {
        SCOPED_TRACE(bad);
        EXPECT_THROW(detail::parse_rfc3339(bad), InternalError);
    }
    EXPECT_EQ(detail::from_unix_ms(1795701600007LL), detail::parse_rfc3339("2026-11-26T14:00:00.007Z"));
}

TEST(Decode, MissingOrMistypedFieldsAreReported) {
    auto good = detail::parse_json(
        R"({"_id":"k","locked":true,"host":"h","uuid":"u","pid":7,"ts_created":"2026-11-26T14:00:00.000Z",)"
        R"("ts_expire":"2026-11-26T14:00:10.000Z","fence":3})");
    CurrentLock c = detail::decode_current(good);
    EXPECT_EQ(c.key, "k");
    EXPECT_EQ(c.pid, 7);
    EXPECT_EQ(c.fence, 3);
    EXPECT_EQ(c.ts_expire - c.ts_created, std::chrono::seconds(10));
    auto no_fence = detail::parse_json(R"({"_id":"k","locked":true,"host":"h","uuid":"u","pid":7})");
    EXPECT_THROW(detail::decode_current(no_fence), InternalError);
    auto bad_pid = detail::parse_json(R"({"uuid":"u","key":"k","ttl":1,"timestamp":"2026-11-26T14:00:00.000Z",)"
                                      R"("host":"h","pid":"7","lock_owned":false})");
    EXPECT_THROW(detail::decode_lock_status(bad_pid), InternalError);
    EXPECT_THROW(detail::decode_cluster(detail::parse_json("[]")), InternalError);
}

// ---- options ----

TEST(Options, DefaultsMatchTheCLibrary) {
    me_locker_options c;
    ::me_locker_options_init(&c);
    LockerOptions cpp;
    EXPECT_EQ(cpp.dbcollection, std::string(c.dbcollection));
    EXPECT_DOUBLE_EQ(cpp.ttl.count(), c.ttl);
    EXPECT_EQ(cpp.timeparanoid, c.timeparanoid);
    EXPECT_DOUBLE_EQ(cpp.maxoffset, c.maxoffset);

    me_elector_options ce;
    ::me_elector_options_init(&ce);
    ElectorOptions e;
    EXPECT_DOUBLE_EQ(e.ttl.count(), ce.ttl);
    EXPECT_EQ(e.report_status, ce.report_status);
    EXPECT_EQ(ce.app_version, nullptr);
    EXPECT_FALSE(e.app_version.has_value());
    EXPECT_FALSE(e.on_leader || e.on_leader_loss || e.on_loop);
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
    EXPECT_THROW(lock.acquire(true, 1s), Error);
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
