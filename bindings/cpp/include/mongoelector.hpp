// mongoelector.hpp: header-only C++17 wrapper over the mongoelector C ABI
// (include/mongoelector.h, libmongoelector).
//
//   * Client, Locker and LeaderElector are move-only RAII handles. A moved-from
//     object is inert: its destructor does nothing, `explicit operator bool`
//     is false, and every other method throws InvalidState.
//   * Every failing C call becomes an exception derived from
//     mongoelector::Error (itself a std::runtime_error) carrying the me_status.
//   * Locker models the standard Lockable and TimedLockable requirements, so
//     std::lock_guard, std::unique_lock, std::scoped_lock and std::lock work.
//   * LeaderElector takes std::function<void()> callbacks. They run on the
//     elector's own thread (or on the caller's thread for the on_leader_loss
//     caused by the caller's own stop()/release()/destruction). An exception
//     thrown by a callback is caught at the C boundary and logged (see
//     set_log_handler); it never unwinds through C.
//
// Thread safety: every method of Client, Locker and LeaderElector may be called
// from several threads at once, except that destroying or move-assigning an
// object must not race other calls on it (the C ABI's *_free rule). As in C,
// a Locker may be destroyed while other threads wait inside its acquire(),
// lock() or try_lock_for(): those calls then throw InvalidState promptly.
//
// Only this header and the C header are needed; no JSON or other dependency.
#ifndef MONGOELECTOR_HPP
#define MONGOELECTOR_HPP

#include <mongoelector.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mongoelector {

/// Wall-clock instants reported by the library (lock expiry, status times).
using TimePoint = std::chrono::system_clock::time_point;
/// Durations in (fractional) seconds, as the C ABI takes them. Any
/// std::chrono::duration converts to it implicitly.
using Seconds = std::chrono::duration<double>;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Base of every exception this header throws; carries the C status code.
class Error : public std::runtime_error {
public:
    Error(me_status status, const std::string& message)
        : std::runtime_error(message), status_(status) {}
    /// The C ABI status of the failure.
    me_status status() const noexcept { return status_; }
    /// The status as a name, e.g. "ME_ERR_LOCK_EXISTS".
    const char* status_name() const noexcept { return ::me_status_name(static_cast<int>(status_)); }

private:
    me_status status_;
};

/// NULL/empty/bad argument (ME_ERR_INVALID_ARGUMENT).
class InvalidArgument : public Error {
public:
    explicit InvalidArgument(const std::string& m) : Error(ME_ERR_INVALID_ARGUMENT, m) {}
};
/// Non-blocking acquire found the lock held (ME_ERR_LOCK_EXISTS).
class LockExists : public Error {
public:
    explicit LockExists(const std::string& m) : Error(ME_ERR_LOCK_EXISTS, m) {}
};
/// Blocking acquire ran out of time (ME_ERR_ACQUIRE_TIMEOUT).
class AcquireTimeout : public Error {
public:
    explicit AcquireTimeout(const std::string& m) : Error(ME_ERR_ACQUIRE_TIMEOUT, m) {}
};
/// Host clock differs from the server's by more than maxoffset (ME_ERR_TIME_OFFSET).
class TimeOffsetError : public Error {
public:
    explicit TimeOffsetError(const std::string& m) : Error(ME_ERR_TIME_OFFSET, m) {}
};
/// Renewal of a lock this locker does not hold (ME_ERR_NOT_OWNED).
class NotOwned : public Error {
public:
    explicit NotOwned(const std::string& m) : Error(ME_ERR_NOT_OWNED, m) {}
};
/// Driver or server failure: connection, auth, timeout, write error (ME_ERR_DATABASE).
class DatabaseError : public Error {
public:
    explicit DatabaseError(const std::string& m) : Error(ME_ERR_DATABASE, m) {}
};
/// The object's state does not allow the call, e.g. start() on a running
/// elector, or any use of a moved-from object (ME_ERR_INVALID_STATE).
class InvalidState : public Error {
public:
    explicit InvalidState(const std::string& m) : Error(ME_ERR_INVALID_STATE, m) {}
};
/// A caught panic or a bug in the library, or output this header cannot
/// decode (ME_ERR_INTERNAL).
class InternalError : public Error {
public:
    explicit InternalError(const std::string& m) : Error(ME_ERR_INTERNAL, m) {}
};

namespace detail {

/// Throws the exception class of `status` with `message`.
[[noreturn]] inline void throw_error(me_status status, const std::string& message) {
    switch (status) {
    case ME_ERR_INVALID_ARGUMENT: throw InvalidArgument(message);
    case ME_ERR_LOCK_EXISTS: throw LockExists(message);
    case ME_ERR_ACQUIRE_TIMEOUT: throw AcquireTimeout(message);
    case ME_ERR_TIME_OFFSET: throw TimeOffsetError(message);
    case ME_ERR_NOT_OWNED: throw NotOwned(message);
    case ME_ERR_DATABASE: throw DatabaseError(message);
    case ME_ERR_INVALID_STATE: throw InvalidState(message);
    case ME_ERR_INTERNAL: throw InternalError(message);
    default: throw Error(status, message);
    }
}

/// Throws for a failed call, with this thread's last error message (read at
/// once, on the same thread, as the C ABI requires).
inline void check(me_status status) {
    if (status == ME_OK) return;
    const char* msg = ::me_last_error_message();
    std::string text = (msg != nullptr && *msg != '\0') ? std::string(msg)
                                                        : std::string(::me_status_name(static_cast<int>(status)));
    throw_error(status, text);
}

inline std::string str_or_empty(const char* s) { return s != nullptr ? std::string(s) : std::string(); }

/// Takes ownership of a char* returned through a char** out-parameter.
struct CStringDeleter {
    void operator()(char* s) const noexcept { ::me_string_free(s); }
};
using CString = std::unique_ptr<char, CStringDeleter>;

inline double to_c_seconds(Seconds s) { return s.count(); }

/// `s` as a C string argument named `name`. A NUL inside would silently cut
/// the string short in C (naming another key, database or server), so it is
/// an InvalidArgument.
inline const char* c_string(const std::string& s, const char* name) {
    std::size_t nul = s.find('\0');
    if (nul != std::string::npos)
        throw InvalidArgument(std::string("invalid argument: ") + name + " contains a NUL byte at offset " +
                              std::to_string(nul) + " (a C string would end there)");
    return s.c_str();
}

/// Timeouts at least this long (about 31,700 years; e.g. hours::max()) are
/// more than the library can count: try_lock_for waits without a timeout.
constexpr double kLongestTimeout = 1e12;

// ---- logging (process-wide) ----

struct LogState {
    std::mutex mutex;
    std::shared_ptr<const std::function<void(int, const std::string&)>> handler;
};

/// Leaked on purpose: the C library may call the log trampoline from its own
/// threads until the process ends, after static destructors have run.
inline LogState& log_state() {
    static LogState* state = new LogState();
    return *state;
}

inline std::shared_ptr<const std::function<void(int, const std::string&)>> current_log_handler() {
    LogState& st = log_state();
    std::lock_guard<std::mutex> g(st.mutex);
    return st.handler;
}

/// Logs a message of this header (e.g. an exception from a user callback):
/// to the handler from set_log_handler if there is one, else to stderr.
inline void log(int level, const std::string& message) noexcept {
    try {
        auto h = current_log_handler();
        if (h) {
            (*h)(level, message);
            return;
        }
    } catch (...) {
        // A throwing log handler must not take the process down; fall back.
    }
    std::fprintf(stderr, "mongoelector [%s] %s\n", level <= 1 ? "Error" : level == 2 ? "Warn" : "Info",
                 message.c_str());
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Tiny JSON reader for the flat status objects the C ABI returns
// ---------------------------------------------------------------------------

namespace detail {

/// A parsed JSON value. Objects keep their members in order.
struct Json {
    enum class Type { Null, Bool, Number, String, Array, Object };
    Type type = Type::Null;
    bool boolean = false;
    double number = 0.0;
    bool is_integer = false;  ///< a number without fraction or exponent that fits int64
    std::int64_t integer = 0;
    std::string string;
    std::vector<Json> items;         ///< array elements, or object values
    std::vector<std::string> keys;   ///< object keys (parallel to items)

    bool is_null() const noexcept { return type == Type::Null; }
    /// The member `key` of an object, or nullptr (also for non-objects).
    const Json* find(std::string_view key) const noexcept {
        if (type != Type::Object) return nullptr;
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == key) return &items[i];
        return nullptr;
    }
};

class JsonParser {
public:
    explicit JsonParser(std::string_view text) : s_(text) {}

    Json parse() {
        Json v = value(0);
        skip_ws();
        if (pos_ != s_.size()) fail("trailing characters");
        return v;
    }

private:
    std::string_view s_;
    std::size_t pos_ = 0;

    [[noreturn]] void fail(const char* what) const {
        throw InternalError(std::string("malformed JSON from libmongoelector (") + what + " at offset " +
                            std::to_string(pos_) + ")");
    }
    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    bool eat(char c) {
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect_word(std::string_view w) {
        if (s_.substr(pos_, w.size()) != w) fail("bad literal");
        pos_ += w.size();
    }
    Json value(int depth) {
        if (depth > 64) fail("nesting too deep");
        skip_ws();
        if (pos_ >= s_.size()) fail("unexpected end");
        Json v;
        char c = s_[pos_];
        if (c == '{') {
            ++pos_;
            v.type = Json::Type::Object;
            if (eat('}')) return v;
            do {
                skip_ws();
                if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a key");
                v.keys.push_back(string_body());
                if (!eat(':')) fail("expected ':'");
                v.items.push_back(value(depth + 1));
            } while (eat(','));
            if (!eat('}')) fail("expected '}'");
        } else if (c == '[') {
            ++pos_;
            v.type = Json::Type::Array;
            if (eat(']')) return v;
            do {
                v.items.push_back(value(depth + 1));
            } while (eat(','));
            if (!eat(']')) fail("expected ']'");
        } else if (c == '"') {
            v.type = Json::Type::String;
            v.string = string_body();
        } else if (c == 't') {
            expect_word("true");
            v.type = Json::Type::Bool;
            v.boolean = true;
        } else if (c == 'f') {
            expect_word("false");
            v.type = Json::Type::Bool;
        } else if (c == 'n') {
            expect_word("null");
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            number(v);
        } else {
            fail("unexpected character");
        }
        return v;
    }
    void number(Json& v) {
        std::size_t start = pos_;
        bool integral = true;
        if (s_[pos_] == '-') ++pos_;
        auto digits = [&] {
            std::size_t d = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            if (pos_ == d) fail("expected a digit");
        };
        digits();
        if (pos_ < s_.size() && s_[pos_] == '.') {
            integral = false;
            ++pos_;
            digits();
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            integral = false;
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
            digits();
        }
        std::string text(s_.substr(start, pos_ - start));
        v.type = Json::Type::Number;
        v.number = std::strtod(text.c_str(), nullptr);
        if (integral) {
            errno = 0;
            char* end = nullptr;
            long long n = std::strtoll(text.c_str(), &end, 10);
            if (errno == 0 && end != nullptr && *end == '\0') {
                v.is_integer = true;
                v.integer = static_cast<std::int64_t>(n);
            }
        }
    }
    unsigned hex4() {
        if (pos_ + 4 > s_.size()) fail("short \\u escape");
        unsigned cp = 0;
        for (int i = 0; i < 4; ++i) {
            char h = s_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= static_cast<unsigned>(h - 'A' + 10);
            else fail("bad \\u escape");
        }
        return cp;
    }
    static void put_utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    std::string string_body() {
        ++pos_;  // opening quote
        std::string out;
        for (;;) {
            if (pos_ >= s_.size()) fail("unterminated string");
            char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) fail("unterminated escape");
            char e = s_[pos_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                unsigned cp = hex4();
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') fail("lone surrogate");
                    pos_ += 2;
                    unsigned lo = hex4();
                    if (lo < 0xDC00 || lo > 0xDFFF) fail("bad surrogate pair");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    fail("lone surrogate");
                }
                put_utf8(out, cp);
                break;
            }
            default: fail("bad escape");
            }
        }
    }
};

inline Json parse_json(std::string_view text) { return JsonParser(text).parse(); }

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
inline std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

/// Parses an RFC 3339 timestamp ("2026-11-26T14:00:00.123Z", any number of
/// fraction digits, "Z" or a "+hh:mm"/"-hh:mm" offset).
inline TimePoint parse_rfc3339(std::string_view s) {
    auto bad = [&]() -> InternalError {
        return InternalError("malformed RFC 3339 time from libmongoelector: \"" + std::string(s) + "\"");
    };
    std::size_t p = 0;
    auto num = [&](std::size_t n) -> int {
        if (p + n > s.size()) throw bad();
        int v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            char c = s[p + i];
            if (c < '0' || c > '9') throw bad();
            v = v * 10 + (c - '0');
        }
        p += n;
        return v;
    };
    auto lit = [&](char a, char b = '\0') {
        if (p >= s.size() || (s[p] != a && (b == '\0' || s[p] != b))) throw bad();
        ++p;
    };
    int year = num(4);
    lit('-');
    int month = num(2);
    lit('-');
    int day = num(2);
    lit('T', 't');
    int hour = num(2);
    lit(':');
    int minute = num(2);
    lit(':');
    int second = num(2);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) throw bad();
    std::int64_t nanos = 0;
    if (p < s.size() && s[p] == '.') {
        ++p;
        std::size_t digits = 0;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
            if (digits < 9) nanos = nanos * 10 + (s[p] - '0');
            ++digits;
            ++p;
        }
        if (digits == 0) throw bad();
        for (std::size_t i = digits; i < 9; ++i) nanos *= 10;
    }
    std::int64_t offset_s = 0;
    if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
        ++p;
    } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
        int sign = s[p] == '-' ? -1 : 1;
        ++p;
        int oh = num(2);
        lit(':');
        int om = num(2);
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        throw bad();
    }
    if (p != s.size()) throw bad();
    std::int64_t secs = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                        hour * 3600 + minute * 60 + second - offset_s;
    auto since_epoch = std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos);
    return TimePoint(std::chrono::duration_cast<TimePoint::duration>(since_epoch));
}

inline TimePoint from_unix_ms(std::int64_t ms) {
    return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds(ms)));
}

// ---- typed access to decoded objects; a missing required field is a contract break ----

[[noreturn]] inline void missing(std::string_view key, const char* what) {
    throw InternalError("libmongoelector JSON: field \"" + std::string(key) + "\" is missing or not " + what);
}
inline const Json& field(const Json& o, std::string_view key) {
    const Json* v = o.find(key);
    if (v == nullptr) missing(key, "present");
    return *v;
}
inline std::string get_string(const Json& o, std::string_view key) {
    const Json& v = field(o, key);
    if (v.type != Json::Type::String) missing(key, "a string");
    return v.string;
}
inline std::optional<std::string> get_opt_string(const Json& o, std::string_view key) {
    const Json* v = o.find(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->type != Json::Type::String) missing(key, "a string");
    return v->string;
}
inline bool get_bool(const Json& o, std::string_view key) {
    const Json& v = field(o, key);
    if (v.type != Json::Type::Bool) missing(key, "a boolean");
    return v.boolean;
}
inline std::int64_t get_int(const Json& o, std::string_view key) {
    const Json& v = field(o, key);
    if (v.type != Json::Type::Number || !v.is_integer) missing(key, "an integer");
    return v.integer;
}
inline std::optional<std::int64_t> get_opt_int(const Json& o, std::string_view key) {
    const Json* v = o.find(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->type != Json::Type::Number || !v->is_integer) missing(key, "an integer");
    return v->integer;
}
inline double get_number(const Json& o, std::string_view key) {
    const Json& v = field(o, key);
    if (v.type != Json::Type::Number) missing(key, "a number");
    return v.number;
}
inline TimePoint get_time(const Json& o, std::string_view key) {
    const Json& v = field(o, key);
    if (v.type != Json::Type::String) missing(key, "an RFC 3339 string");
    return parse_rfc3339(v.string);
}
inline std::optional<TimePoint> get_opt_time(const Json& o, std::string_view key) {
    const Json* v = o.find(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->type != Json::Type::String) missing(key, "an RFC 3339 string");
    return parse_rfc3339(v->string);
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Status values
// ---------------------------------------------------------------------------

/// The live lock of a key (Locker::current()).
struct CurrentLock {
    std::string key;  ///< the lock key (the seed's `_id`)
    bool locked = false;
    std::string host;
    std::string uuid;
    std::int64_t pid = 0;
    TimePoint ts_created{};
    TimePoint ts_expire{};
    std::int64_t fence = 0;  ///< fencing token of the holding
};

/// A locker's view of its lock (Locker::status()).
struct LockStatus {
    std::string uuid;
    std::string key;
    Seconds ttl{0};
    TimePoint timestamp{};
    std::string host;
    std::int64_t pid = 0;
    bool lock_owned = false;
    std::optional<TimePoint> lock_created;  ///< set only when lock_owned
    std::optional<TimePoint> lock_expires;  ///< set only when lock_owned
    std::optional<std::int64_t> fence;      ///< set only when lock_owned
};

/// One elector's report (LeaderElector::node_status(), ClusterDetail::member_detail).
struct NodeStatus : LockStatus {
    std::string id;  ///< the report's `_id`
    bool is_leader = false;
    bool elector_running = false;
    std::optional<TimePoint> last_poll;
    std::optional<std::string> app_version;
};

/// Who leads, taken from the lock itself.
struct LeaderInfo {
    std::string host;
    std::int64_t process_id = 0;
    std::string uuid;
    std::int64_t fence = 0;
};

/// The whole group (LeaderElector::cluster_detail()): live members, newest first.
struct ClusterDetail {
    std::vector<NodeStatus> member_detail;
    std::optional<LeaderInfo> leader;
    TimePoint timestamp{};
};

namespace detail {

inline void decode_into(const Json& o, LockStatus& s) {
    s.uuid = get_string(o, "uuid");
    s.key = get_string(o, "key");
    s.ttl = Seconds(get_number(o, "ttl"));
    s.timestamp = get_time(o, "timestamp");
    s.host = get_string(o, "host");
    s.pid = get_int(o, "pid");
    s.lock_owned = get_bool(o, "lock_owned");
    s.lock_created = get_opt_time(o, "lock_created");
    s.lock_expires = get_opt_time(o, "lock_expires");
    s.fence = get_opt_int(o, "fence");
}

inline LockStatus decode_lock_status(const Json& o) {
    if (o.type != Json::Type::Object) missing("(status)", "an object");
    LockStatus s;
    decode_into(o, s);
    return s;
}

inline CurrentLock decode_current(const Json& o) {
    if (o.type != Json::Type::Object) missing("(current)", "an object");
    CurrentLock c;
    c.key = get_string(o, "_id");
    c.locked = get_bool(o, "locked");
    c.host = get_string(o, "host");
    c.uuid = get_string(o, "uuid");
    c.pid = get_int(o, "pid");
    c.ts_created = get_time(o, "ts_created");
    c.ts_expire = get_time(o, "ts_expire");
    c.fence = get_int(o, "fence");
    return c;
}

inline NodeStatus decode_node(const Json& o) {
    if (o.type != Json::Type::Object) missing("(node status)", "an object");
    NodeStatus n;
    decode_into(o, n);
    const Json* id = o.find("_id");
    if (id != nullptr && id->type == Json::Type::String) n.id = id->string;
    n.is_leader = get_bool(o, "is_leader");
    n.elector_running = get_bool(o, "elector_running");
    n.last_poll = get_opt_time(o, "last_poll");
    n.app_version = get_opt_string(o, "app_version");
    return n;
}

inline ClusterDetail decode_cluster(const Json& o) {
    if (o.type != Json::Type::Object) missing("(cluster detail)", "an object");
    ClusterDetail c;
    const Json& members = field(o, "member_detail");
    if (members.type != Json::Type::Array) missing("member_detail", "an array");
    for (const Json& m : members.items) c.member_detail.push_back(decode_node(m));
    const Json* leader = o.find("leader");
    if (leader != nullptr && !leader->is_null()) {
        if (leader->type != Json::Type::Object) missing("leader", "an object");
        LeaderInfo l;
        l.host = get_string(*leader, "host");
        l.process_id = get_int(*leader, "process_id");
        l.uuid = get_string(*leader, "uuid");
        l.fence = get_int(*leader, "fence");
        c.leader = std::move(l);
    }
    c.timestamp = get_time(o, "timestamp");
    return c;
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Library-wide functions
// ---------------------------------------------------------------------------

/// The library's version, e.g. "0.1.0".
inline std::string version() { return detail::str_or_empty(::me_version()); }

/// The name of a status code, e.g. "ME_ERR_LOCK_EXISTS" ("ME_UNKNOWN" for unknown values).
inline std::string status_name(int status) { return detail::str_or_empty(::me_status_name(status)); }

/// Log levels, numbered as in the C ABI.
enum class LogLevel : int { Error = 1, Warn = 2, Info = 3, Debug = 4, Trace = 5 };

/// A process-wide log handler. It may be called from several threads at once
/// (the library's driver threads), so it must be thread-safe. It must not call
/// set_log_handler itself.
using LogHandler = std::function<void(LogLevel, const std::string&)>;

namespace detail {
extern "C" {
/// C trampoline of the process-wide log callback.
inline void mongoelector_cpp_log_trampoline(void* /*user_data*/, int level, const char* message) {
    try {
        auto h = current_log_handler();
        if (h) (*h)(level, message != nullptr ? std::string(message) : std::string());
    } catch (...) {
        // Never unwind into C.
    }
}
}  // extern "C"
}  // namespace detail

/// Routes the library's log messages up to `max_level`, and this header's own
/// (exceptions thrown by elector callbacks, failed unlocks), to `handler`. An
/// empty handler restores the default: warnings and errors to stderr.
inline void set_log_handler(LogHandler handler, LogLevel max_level = LogLevel::Warn) {
    detail::LogState& st = detail::log_state();
    std::shared_ptr<const std::function<void(int, const std::string&)>> wrapped;
    if (handler) {
        wrapped = std::make_shared<const std::function<void(int, const std::string&)>>(
            [h = std::move(handler)](int level, const std::string& msg) { h(static_cast<LogLevel>(level), msg); });
    }
    {
        std::lock_guard<std::mutex> g(st.mutex);
        st.handler = wrapped;
    }
    if (wrapped) {
        ::me_set_log_callback(&detail::mongoelector_cpp_log_trampoline, static_cast<int>(max_level), nullptr);
    } else {
        ::me_set_log_callback(nullptr, static_cast<int>(max_level), nullptr);
    }
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/// A connection pool to one deployment; share one per process. Lockers and
/// electors made from it keep their own reference, so it may be destroyed first.
class Client {
public:
    /// Connects lazily (the first operation talks to the server). A server that
    /// cannot be reached fails within the URI's serverSelectionTimeoutMS.
    explicit Client(const std::string& uri) {
        me_client* raw = nullptr;
        detail::check(::me_client_new(detail::c_string(uri, "uri"), &raw));
        h_.reset(raw);
    }

    Client(Client&&) noexcept = default;
    Client& operator=(Client&&) noexcept = default;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client() = default;

    /// False for a moved-from Client.
    explicit operator bool() const noexcept { return static_cast<bool>(h_); }
    /// The C handle (still owned by this object); nullptr when moved from.
    const me_client* capi() const noexcept { return h_.get(); }

    /// The C handle, or InvalidState when moved from.
    const me_client* handle() const {
        if (!h_) throw InvalidState("use of a moved-from mongoelector::Client");
        return h_.get();
    }

private:
    struct Deleter {
        void operator()(me_client* c) const noexcept { ::me_client_free(c); }
    };
    std::unique_ptr<me_client, Deleter> h_;
};

// ---------------------------------------------------------------------------
// Locker
// ---------------------------------------------------------------------------

/// Options of a Locker, with the seed's defaults.
struct LockerOptions {
    std::string dbcollection = "mongolocker";  ///< collection of the lock documents
    Seconds ttl{600.0};                        ///< lease length; must be positive
    bool timeparanoid = true;                  ///< check the host clock against the server before acquiring
    double maxoffset = 0.5;                    ///< largest clock offset accepted, in seconds
};

namespace detail {
/// Getters shared by Locker and LockerView (the C getters take a const handle).
struct LockerGetters {
    static std::string key(const me_locker* l) { return str_or_empty(::me_locker_key(l)); }
    static std::string uuid(const me_locker* l) { return str_or_empty(::me_locker_uuid(l)); }
    static std::string host(const me_locker* l) { return str_or_empty(::me_locker_host(l)); }
    static std::int64_t pid(const me_locker* l) { return ::me_locker_pid(l); }
    static std::int64_t fence(const me_locker* l) { return ::me_locker_fence(l); }
    static Seconds ttl(const me_locker* l) { return Seconds(::me_locker_ttl(l)); }
    static std::optional<TimePoint> ts_expire(const me_locker* l) {
        std::int64_t ms = 0;
        if (!::me_locker_ts_expire(l, &ms)) return std::nullopt;
        return from_unix_ms(ms);
    }
};
}  // namespace detail

/// A read-only view of a locker owned by someone else (LeaderElector::mlock()).
/// Valid while its owner lives.
class LockerView {
public:
    explicit LockerView(const me_locker* l) noexcept : l_(l) {}
    std::string key() const { return detail::LockerGetters::key(handle()); }
    std::string uuid() const { return detail::LockerGetters::uuid(handle()); }
    std::string host() const { return detail::LockerGetters::host(handle()); }
    std::int64_t pid() const { return detail::LockerGetters::pid(handle()); }
    std::int64_t fence() const { return detail::LockerGetters::fence(handle()); }
    Seconds ttl() const { return detail::LockerGetters::ttl(handle()); }
    std::optional<TimePoint> ts_expire() const { return detail::LockerGetters::ts_expire(handle()); }
    const me_locker* capi() const noexcept { return l_; }

private:
    const me_locker* handle() const {
        if (l_ == nullptr) throw InvalidState("empty mongoelector::LockerView");
        return l_;
    }
    const me_locker* l_;
};

/// A distributed lock on `key` in database `db`.
///
/// There is no nesting count: acquiring a lock this locker holds renews it,
/// and one release frees it. Lockable/TimedLockable:
///   lock()            blocking acquire, no timeout
///   try_lock()        non-blocking acquire; false when someone else holds it
///   try_lock_for(d)   blocking acquire with timeout d; false on timeout
///   try_lock_until(t) the same with a deadline on any clock
///   unlock()          release(); never throws (a failure is logged)
/// try_lock* return false only for contention; database and clock failures are
/// thrown (std::lock and std::scoped_lock unlock what they hold and rethrow).
class Locker {
public:
    Locker(const Client& client, const std::string& db, const std::string& key,
           const LockerOptions& options = LockerOptions()) {
        me_locker_options o;
        ::me_locker_options_init(&o);
        o.dbcollection = detail::c_string(options.dbcollection, "dbcollection");
        o.ttl = detail::to_c_seconds(options.ttl);
        o.timeparanoid = options.timeparanoid;
        o.maxoffset = options.maxoffset;
        me_locker* raw = nullptr;
        const char* c_db = detail::c_string(db, "db_name");
        const char* c_key = detail::c_string(key, "key");
        detail::check(::me_locker_new(client.handle(), c_db, c_key, &o, &raw));
        h_.reset(raw);
    }

    Locker(Locker&&) noexcept = default;
    Locker& operator=(Locker&&) noexcept = default;
    Locker(const Locker&) = delete;
    Locker& operator=(const Locker&) = delete;
    /// Releases the lock if this locker holds it (best effort), then frees.
    ~Locker() = default;

    explicit operator bool() const noexcept { return static_cast<bool>(h_); }
    me_locker* capi() const noexcept { return h_.get(); }

    /// Acquires the lock. blocking=false fails at once with LockExists when
    /// someone else holds it; blocking waits (polling every `step`) up to
    /// `timeout` (nullopt: forever) and then throws AcquireTimeout. A timeout
    /// with blocking=false, or a timeout or step that is negative or not
    /// finite, is an InvalidArgument. `force` takes the lock even from a live holder. May
    /// throw TimeOffsetError (timeparanoid) and DatabaseError.
    void acquire(bool blocking = true, std::optional<Seconds> timeout = std::nullopt, Seconds step = Seconds(0.25),
                 bool force = false) {
        me_locker* h = handle();
        // -1 s is ME_NO_TIMEOUT in C, but here "forever" is std::nullopt: an
        // explicit -1 s is a negative timeout like any other.
        if (timeout && timeout->count() == ME_NO_TIMEOUT)
            throw InvalidArgument("invalid argument: timeout must be a finite number >= 0 of seconds, got -1 "
                                  "(std::nullopt means no timeout)");
        detail::check(::me_acquire(h, blocking, timeout ? timeout->count() : ME_NO_TIMEOUT, step.count(), force));
    }

    /// Releases the lock if this locker holds it (with `force`: whoever does).
    /// Releasing a lock held by someone else is a no-op.
    void release(bool force = false) { detail::check(::me_release(handle(), force)); }

    /// Renews this locker's holding for another ttl and returns the new expiry,
    /// or nullopt when this locker does not hold the lock (never acquired,
    /// released, expired or taken over), as in the seed.
    std::optional<TimePoint> touch() {
        std::int64_t ms = 0;
        me_status s = ::me_touch(handle(), &ms);
        if (s == ME_ERR_NOT_OWNED) return std::nullopt;
        detail::check(s);
        return detail::from_unix_ms(ms);
    }

    /// Like touch(), but throws NotOwned when this locker does not hold the lock.
    TimePoint renew() {
        std::int64_t ms = 0;
        detail::check(::me_touch(handle(), &ms));
        return detail::from_unix_ms(ms);
    }

    /// True if anyone holds the lock now (one read).
    bool locked() {
        bool out = false;
        detail::check(::me_locked(handle(), &out));
        return out;
    }

    /// True if this locker holds the lock now (one read).
    bool owned() {
        bool out = false;
        detail::check(::me_owned(handle(), &out));
        return out;
    }

    /// The live lock (whoever holds it), or nullopt when nobody does.
    std::optional<CurrentLock> current() {
        char* raw = nullptr;
        detail::check(::me_get_current(handle(), &raw));
        detail::CString json(raw);
        if (!json) return std::nullopt;
        detail::Json v = detail::parse_json(json.get());
        if (v.is_null()) return std::nullopt;
        return detail::decode_current(v);
    }

    /// This locker's view of the lock (one read).
    LockStatus status() {
        char* raw = nullptr;
        detail::check(::me_locker_status(handle(), &raw));
        detail::CString json(raw);
        if (!json) throw InternalError("me_locker_status returned no JSON");
        return detail::decode_lock_status(detail::parse_json(json.get()));
    }

    std::string key() const { return detail::LockerGetters::key(handle()); }
    std::string uuid() const { return detail::LockerGetters::uuid(handle()); }
    std::string host() const { return detail::LockerGetters::host(handle()); }
    std::int64_t pid() const { return detail::LockerGetters::pid(handle()); }
    /// Fencing token of this locker's latest acquisition; 0 before the first.
    std::int64_t fence() const { return detail::LockerGetters::fence(handle()); }
    /// The lease length this locker was made with.
    Seconds ttl() const { return detail::LockerGetters::ttl(handle()); }
    /// Expiry of this locker's latest acquisition or renewal; nullopt before the first.
    std::optional<TimePoint> ts_expire() const { return detail::LockerGetters::ts_expire(handle()); }

    // ---- Lockable / TimedLockable ----

    void lock() { acquire(true); }

    bool try_lock() {
        try {
            acquire(false);
            return true;
        } catch (const LockExists&) {
            return false;
        }
    }

    /// Zero or negative: one try. NaN: InvalidArgument. Longer than the
    /// library can count (e.g. std::chrono::hours::max()): no timeout.
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period>& rel) {
        Seconds d = std::chrono::duration_cast<Seconds>(rel);
        if (std::isnan(d.count())) throw InvalidArgument("invalid argument: try_lock_for: the duration is NaN");
        if (!(d.count() > 0.0)) return try_lock();
        try {
            acquire(true, d.count() < detail::kLongestTimeout ? std::optional<Seconds>(d) : std::nullopt);
            return true;
        } catch (const AcquireTimeout&) {
            return false;
        }
    }

    template <class C, class D>
    bool try_lock_until(const std::chrono::time_point<C, D>& abs) {
        const auto now = C::now();
        if (abs <= now) return try_lock();  // also keeps time_point::min() - now from overflowing
        return try_lock_for(abs - now);
    }

    /// release(); a failure is logged, never thrown (unlock runs in destructors).
    void unlock() noexcept {
        try {
            release(false);
        } catch (const std::exception& e) {
            detail::log(static_cast<int>(LogLevel::Error), std::string("Locker::unlock failed: ") + e.what());
        }
    }

private:
    me_locker* handle() const {
        if (!h_) throw InvalidState("use of a moved-from mongoelector::Locker");
        return h_.get();
    }
    struct Deleter {
        void operator()(me_locker* l) const noexcept { ::me_locker_free(l); }
    };
    std::unique_ptr<me_locker, Deleter> h_;
};

// ---------------------------------------------------------------------------
// LeaderElector
// ---------------------------------------------------------------------------

/// Options of a LeaderElector, with the seed's defaults.
struct ElectorOptions {
    Seconds ttl{15.0};                      ///< leader lease length; must be positive
    std::function<void()> on_leader;        ///< this elector became leader
    std::function<void()> on_leader_loss;   ///< this elector stopped being leader
    std::function<void()> on_loop;          ///< after each poll cycle
    std::optional<std::string> app_version; ///< included in status reports
    bool report_status = true;              ///< write this node's status to the database
};

namespace detail {

/// The callbacks of one elector, boxed on the heap so their address survives moves.
struct ElectorCallbacks {
    std::function<void()> on_leader;
    std::function<void()> on_leader_loss;
    std::function<void()> on_loop;
};

inline void run_callback(void* user_data, std::function<void()> ElectorCallbacks::*which, const char* name) noexcept {
    auto* cbs = static_cast<ElectorCallbacks*>(user_data);
    if (cbs == nullptr) return;
    try {
        const std::function<void()>& f = cbs->*which;
        if (f) f();
    } catch (const std::exception& e) {
        log(static_cast<int>(LogLevel::Error),
            std::string("exception thrown by the ") + name + " callback (caught, the elector keeps running): " + e.what());
    } catch (...) {
        log(static_cast<int>(LogLevel::Error),
            std::string("unknown exception thrown by the ") + name + " callback (caught, the elector keeps running)");
    }
}

extern "C" {
inline void mongoelector_cpp_on_leader(void* user_data) {
    run_callback(user_data, &ElectorCallbacks::on_leader, "on_leader");
}
inline void mongoelector_cpp_on_leader_loss(void* user_data) {
    run_callback(user_data, &ElectorCallbacks::on_leader_loss, "on_leader_loss");
}
inline void mongoelector_cpp_on_loop(void* user_data) {
    run_callback(user_data, &ElectorCallbacks::on_loop, "on_loop");
}
}  // extern "C"

}  // namespace detail

/// Leader election among all electors of `key` in database `db`.
///
/// Callbacks never run two at once for one elector, and none runs after
/// stop() (from another thread) or the destructor has returned; the
/// on_leader_loss caused by this thread's own stop()/release()/destruction
/// runs on this thread before that call returns. stop() and release() may be
/// called from inside a callback; destroying or moving the elector from inside
/// its own callback is not allowed. Lambdas capturing the elector by reference
/// must not outlive it (or follow it across a move).
class LeaderElector {
public:
    LeaderElector(const Client& client, const std::string& db, const std::string& key,
                  ElectorOptions options = ElectorOptions())
        : cbs_(new detail::ElectorCallbacks{std::move(options.on_leader), std::move(options.on_leader_loss),
                                            std::move(options.on_loop)}) {
        me_elector_options o;
        ::me_elector_options_init(&o);
        o.ttl = detail::to_c_seconds(options.ttl);
        o.on_leader = cbs_->on_leader ? &detail::mongoelector_cpp_on_leader : nullptr;
        o.on_leader_loss = cbs_->on_leader_loss ? &detail::mongoelector_cpp_on_leader_loss : nullptr;
        o.on_loop = cbs_->on_loop ? &detail::mongoelector_cpp_on_loop : nullptr;
        o.user_data = cbs_.get();
        o.app_version = options.app_version ? detail::c_string(*options.app_version, "app_version") : nullptr;
        o.report_status = options.report_status;
        me_elector* raw = nullptr;
        const char* c_db = detail::c_string(db, "db_name");
        const char* c_key = detail::c_string(key, "key");
        detail::check(::me_elector_new(client.handle(), c_db, c_key, &o, &raw));
        h_.reset(raw);
    }

    LeaderElector(LeaderElector&&) noexcept = default;
    /// Frees this elector first (stopping it), then takes the other's.
    LeaderElector& operator=(LeaderElector&& other) noexcept {
        if (this != &other) {
            h_.reset();  // stop and free before the callbacks it uses go away
            cbs_ = std::move(other.cbs_);
            h_ = std::move(other.h_);
        }
        return *this;
    }
    LeaderElector(const LeaderElector&) = delete;
    LeaderElector& operator=(const LeaderElector&) = delete;
    /// Stops the elector if it runs (releasing leadership, firing
    /// on_leader_loss on this thread if leading), then frees it.
    ~LeaderElector() { h_.reset(); }

    explicit operator bool() const noexcept { return static_cast<bool>(h_); }
    me_elector* capi() const noexcept { return h_.get(); }

    /// Starts the elector thread; with `blocking`, runs the loop on this thread
    /// until stop() (from a callback or another thread). InvalidState if running.
    void start(bool blocking = false) { detail::check(::me_elector_start(handle(), blocking)); }
    /// Stops the elector and releases leadership (see the class comment).
    void stop() { detail::check(::me_elector_stop(handle())); }
    /// One poll cycle on this thread, then the callbacks of what happened.
    void poll() { detail::check(::me_elector_poll(handle())); }
    /// Gives up leadership now; a running elector competes again after a while.
    void release() { detail::check(::me_elector_release(handle())); }

    /// True while this elector leads and its lease has not run out (no database call).
    bool is_leader() {
        bool out = false;
        detail::check(::me_elector_is_leader(handle(), &out));
        return out;
    }
    /// True if any elector of the group leads now (one read).
    bool leader_exists() {
        bool out = false;
        detail::check(::me_elector_leader_exists(handle(), &out));
        return out;
    }
    bool running() const { return ::me_elector_running(handle()); }
    /// Time until the next poll of a running elector; a quarter ttl otherwise.
    Seconds poll_wait() const { return Seconds(::me_elector_poll_wait(handle())); }
    Seconds ttl() const { return Seconds(::me_elector_ttl(handle())); }
    std::string key() const { return detail::str_or_empty(::me_elector_key(handle())); }
    /// The lock the election runs on (valid while this elector lives).
    LockerView mlock() const { return LockerView(::me_elector_locker(handle())); }

    /// This node's status (one read).
    NodeStatus node_status() {
        char* raw = nullptr;
        detail::check(::me_elector_node_status(handle(), &raw));
        detail::CString json(raw);
        if (!json) throw InternalError("me_elector_node_status returned no JSON");
        return detail::decode_node(detail::parse_json(json.get()));
    }
    /// The live members and the leader, taken from the lock itself.
    ClusterDetail cluster_detail() {
        char* raw = nullptr;
        detail::check(::me_elector_cluster_detail(handle(), &raw));
        detail::CString json(raw);
        if (!json) throw InternalError("me_elector_cluster_detail returned no JSON");
        return detail::decode_cluster(detail::parse_json(json.get()));
    }

private:
    me_elector* handle() const {
        if (!h_) throw InvalidState("use of a moved-from mongoelector::LeaderElector");
        return h_.get();
    }
    struct Deleter {
        void operator()(me_elector* e) const noexcept { ::me_elector_free(e); }
    };
    // Order matters: h_ is destroyed first, so no callback can run once cbs_ goes.
    std::unique_ptr<detail::ElectorCallbacks> cbs_;
    std::unique_ptr<me_elector, Deleter> h_;
};

}  // namespace mongoelector

#endif  // MONGOELECTOR_HPP
