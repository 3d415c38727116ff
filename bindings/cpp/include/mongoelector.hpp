// mongoelector.hpp: header-only C++17 wrapper over the mongoelector C ABI 0.2
// (include/mongoelector.h, libmongoelector). It maps the C calls to C++
// idioms and nothing more: defaults, validation and every loop live in the
// library.
//
//   * Client, Locker, LeaderElector and CancelToken are move-only RAII
//     handles. A moved-from object is empty: `explicit operator bool` is
//     false, its destructor does nothing, and every other method throws
//     InvalidState.
//   * close() shuts a Locker/LeaderElector down (me_*_close: wakes waiting
//     calls, which throw Closed, then releases the lock or leadership). The
//     destructor closes (a failure is logged), then frees: RAII is explicit
//     ownership, so leaving the scope gives the lock up.
//   * Every failing C call becomes an exception derived from
//     mongoelector::Error (a std::runtime_error) carrying the me_status and
//     the library's message (from the call's me_error).
//   * Every duration is a std::chrono duration (Seconds converts from any),
//     every instant a std::chrono::system_clock::time_point, every missing
//     value a std::nullopt. Options are std::optional: what is unset keeps
//     the library's default (the me_*_options_init value).
//   * Locker models Lockable and TimedLockable (std::lock_guard,
//     std::unique_lock, std::scoped_lock, std::lock work). try_lock() makes
//     ONE attempt bounded by kTryLockBound (1 s), so it never blocks for the
//     library's 5-30 s call limit on a hung server; try_lock_for(d) and
//     try_lock_until(t) bound the whole call by d; lock() waits without limit.
//   * Calls that talk to the database take a trailing `const Cancel&`: none,
//     a CancelToken (C++17 and later), or, in C++20, a std::stop_token
//     (a std::stop_callback cancels the call's me_cancel). A cancelled call
//     throws Cancelled within milliseconds.
//   * LeaderElector takes std::function<void()> callbacks, boxed on the heap
//     and freed by the library's user_data_free. An exception thrown by a
//     callback is caught at the C boundary and logged (see set_log_handler).
//
// Thread safety: every method may be called from several threads at once,
// except that destroying or move-assigning an object must not race a call
// that is starting on it (the C ABI's *_free rule). close() may race
// anything: calls waiting on the handle throw Closed.
//
// Fork: as in C. A Client inherited through fork works in the child; a
// Locker or LeaderElector inherited through fork throws InvalidState from
// every call and never acts for the parent (its destructor releases nothing).
#ifndef MONGOELECTOR_HPP
#define MONGOELECTOR_HPP

#include <mongoelector.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#if __cplusplus >= 202002L && __has_include(<stop_token>)
#include <stop_token>
#include <thread>
#endif

#if __cplusplus >= 202002L && defined(__cpp_lib_jthread)
#define MONGOELECTOR_HAS_STOP_TOKEN 1
#else
#define MONGOELECTOR_HAS_STOP_TOKEN 0
#endif

namespace mongoelector {

/// Wall-clock instants reported by the library (lock expiry, status times).
using TimePoint = std::chrono::system_clock::time_point;
/// Durations in (fractional) seconds, as the C ABI takes them. Any
/// std::chrono::duration converts to it implicitly.
using Seconds = std::chrono::duration<double>;

/// The bound of try_lock()'s one attempt, its round trips included.
constexpr std::chrono::seconds kTryLockBound{1};

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Base of every exception this header throws; carries the C status code.
class Error : public std::runtime_error {
public:
    Error(me_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    /// The C ABI status of the failure.
    me_status status() const noexcept { return status_; }
    /// The status as a name, e.g. "ME_ERR_LOCK_EXISTS".
    const char* status_name() const noexcept { return ::me_status_name(static_cast<int>(status_)); }

private:
    me_status status_;
};

#define MONGOELECTOR_ERROR_CLASS(name, status)                                \
    class name : public Error {                                               \
    public:                                                                   \
        explicit name(const std::string& m) : Error(status, m) {}             \
    }

/// NULL/empty/bad argument or option (ME_ERR_INVALID_ARGUMENT).
MONGOELECTOR_ERROR_CLASS(InvalidArgument, ME_ERR_INVALID_ARGUMENT);
/// A non-blocking acquire found the lock held (ME_ERR_LOCK_EXISTS).
MONGOELECTOR_ERROR_CLASS(LockExists, ME_ERR_LOCK_EXISTS);
/// An acquire ran out of its timeout (ME_ERR_ACQUIRE_TIMEOUT).
MONGOELECTOR_ERROR_CLASS(AcquireTimeout, ME_ERR_ACQUIRE_TIMEOUT);
/// The host clock differs from the server's by more than maxoffset (ME_ERR_TIME_OFFSET).
MONGOELECTOR_ERROR_CLASS(TimeOffsetError, ME_ERR_TIME_OFFSET);
/// Renewal of a lock this locker does not hold (ME_ERR_NOT_OWNED).
MONGOELECTOR_ERROR_CLASS(NotOwned, ME_ERR_NOT_OWNED);
/// Driver or server failure: connection, auth, timeout, write error (ME_ERR_DATABASE).
MONGOELECTOR_ERROR_CLASS(DatabaseError, ME_ERR_DATABASE);
/// The object's state does not allow the call: start() on a running elector,
/// a handle inherited through fork, a moved-from object (ME_ERR_INVALID_STATE).
MONGOELECTOR_ERROR_CLASS(InvalidState, ME_ERR_INVALID_STATE);
/// The call's cancellation was requested (ME_ERR_CANCELLED).
MONGOELECTOR_ERROR_CLASS(Cancelled, ME_ERR_CANCELLED);
/// The handle was closed before or during the call (ME_ERR_CLOSED).
MONGOELECTOR_ERROR_CLASS(Closed, ME_ERR_CLOSED);
/// A bug in the library (ME_ERR_INTERNAL).
MONGOELECTOR_ERROR_CLASS(InternalError, ME_ERR_INTERNAL);

#undef MONGOELECTOR_ERROR_CLASS

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
    case ME_ERR_CANCELLED: throw Cancelled(message);
    case ME_ERR_CLOSED: throw Closed(message);
    case ME_ERR_INTERNAL: throw InternalError(message);
    default: throw Error(status, message);
    }
}

struct ErrorDeleter {
    void operator()(me_error* e) const noexcept { ::me_error_free(e); }
};

/// Calls `fn(args..., &err)` and throws the exception of its me_error on failure.
template <class... P, class... A>
inline void call(me_status (*fn)(P...), A&&... args) {
    me_error* raw = nullptr;
    me_status s = fn(std::forward<A>(args)..., &raw);
    std::unique_ptr<me_error, ErrorDeleter> err(raw);
    if (s == ME_OK) return;
    me_status status = err ? ::me_error_status(err.get()) : s;
    std::string message = err ? ::me_error_message(err.get()) : "";
    if (message.empty()) message = ::me_status_name(static_cast<int>(status));
    throw_error(status, message);
}

inline std::string str_or_empty(const char* s) { return s != nullptr ? std::string(s) : std::string(); }
inline std::optional<std::string> opt_str(const char* s) {
    return s != nullptr ? std::optional<std::string>(s) : std::nullopt;
}

/// `s` as a C string argument named `name`. A NUL inside would silently cut
/// the string short in C (naming another key, database or server).
inline const char* c_string(const std::string& s, const char* name) {
    std::size_t nul = s.find('\0');
    if (nul != std::string::npos)
        throw InvalidArgument(std::string(name) + " contains a NUL byte at offset " + std::to_string(nul) +
                              " (a C string would end there)");
    return s.c_str();
}

inline TimePoint from_unix_ms(std::int64_t ms) {
    return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds(ms)));
}

// ---- logging (process-wide) ----

using LogFn = std::function<void(int, const std::string&)>;

struct LogState {
    std::mutex mutex;
    std::shared_ptr<const LogFn> handler;
};

/// Leaked on purpose: the C library may call the log trampoline from its own
/// threads until the process ends, after static destructors have run.
inline LogState& log_state() {
    static LogState* state = new LogState();
    return *state;
}

inline std::shared_ptr<const LogFn> current_log_handler() {
    LogState& st = log_state();
    std::lock_guard<std::mutex> g(st.mutex);
    return st.handler;
}

/// Logs a message of this header (an exception from a user callback, a
/// failed close in a destructor): to the set_log_handler handler, else stderr.
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

extern "C" {
/// C trampoline of the process-wide log callback.
inline void mongoelector_cpp_log_trampoline(void* /*user_data*/, int level, const char* message) {
    try {
        auto h = current_log_handler();
        if (h) (*h)(level, str_or_empty(message));
    } catch (...) {
        // Never unwind into C.
    }
}
}  // extern "C"

}  // namespace detail

// ---------------------------------------------------------------------------
// Library-wide functions
// ---------------------------------------------------------------------------

/// The library's version, e.g. "0.2.0".
inline std::string version() { return detail::str_or_empty(::me_version()); }

/// The name of a status code, e.g. "ME_ERR_LOCK_EXISTS" ("ME_UNKNOWN" for unknown values).
inline std::string status_name(int status) { return detail::str_or_empty(::me_status_name(status)); }

/// Log levels, numbered as in the C ABI.
enum class LogLevel : int { Error = 1, Warn = 2, Info = 3, Debug = 4, Trace = 5 };

/// A process-wide log handler. It may be called from several threads at once
/// (the library's threads), so it must be thread-safe; it must not call
/// set_log_handler or any other mongoelector function.
using LogHandler = std::function<void(LogLevel, const std::string&)>;

/// Routes the library's log messages up to `max_level`, and this header's own
/// (exceptions thrown by elector callbacks, failures in destructors), to
/// `handler`. An empty handler restores the default: warnings and errors to stderr.
inline void set_log_handler(LogHandler handler, LogLevel max_level = LogLevel::Warn) {
    detail::LogState& st = detail::log_state();
    std::shared_ptr<const detail::LogFn> wrapped;
    if (handler) {
        wrapped = std::make_shared<const detail::LogFn>(
            [h = std::move(handler)](int level, const std::string& msg) { h(static_cast<LogLevel>(level), msg); });
    }
    {
        std::lock_guard<std::mutex> g(st.mutex);
        st.handler = wrapped;
    }
    ::me_set_log_callback(wrapped ? &detail::mongoelector_cpp_log_trampoline : nullptr, static_cast<int>(max_level),
                          nullptr);
}

// ---------------------------------------------------------------------------
// Cancellation
// ---------------------------------------------------------------------------

/// A cancellation token (me_cancel): pass it to calls (it converts to Cancel),
/// cancel it from any thread, and every call given it throws Cancelled
/// within milliseconds, as does every later call given it. Move-only; a
/// moved-from token is empty (cancel() does nothing, is_cancelled() is false).
/// The loss signal of a holding or a term (Lease::token) is a CancelToken too.
class CancelToken {
public:
    /// A new, not yet cancelled token (me_cancel_new).
    CancelToken() : c_(::me_cancel_new(), Deleter()) {}
    /// Takes ownership of `owned` (e.g. from me_locker_lease_token), freed
    /// with me_cancel_free; nullptr makes an empty token.
    explicit CancelToken(me_cancel* owned) : c_(owned, Deleter()) {}
    CancelToken(CancelToken&&) noexcept = default;
    CancelToken& operator=(CancelToken&&) noexcept = default;
    CancelToken(const CancelToken&) = delete;
    CancelToken& operator=(const CancelToken&) = delete;
    /// Frees the token; calls still using it keep their own reference.
    ~CancelToken() = default;

    explicit operator bool() const noexcept { return static_cast<bool>(c_); }
    /// Cancels: idempotent, thread-safe, never blocks.
    void cancel() const noexcept { ::me_cancel_cancel(c_.get()); }
    bool is_cancelled() const noexcept { return ::me_cancel_is_cancelled(c_.get()); }
    /// is_cancelled(), named as std::stop_token names it.
    bool stop_requested() const noexcept { return is_cancelled(); }
    /// Waits until cancelled or `timeout` passes; returns whether it was cancelled.
    bool wait_for(Seconds timeout) const { return ::me_cancel_wait(handle(), timeout.count()); }
    const me_cancel* capi() const noexcept { return c_.get(); }

private:
#if MONGOELECTOR_HAS_STOP_TOKEN
    friend class StopBridge;
#endif
    const me_cancel* handle() const {
        if (!c_) throw InvalidState("use of a moved-from mongoelector::CancelToken");
        return c_.get();
    }
    struct Deleter {
        void operator()(me_cancel* c) const noexcept { ::me_cancel_free(c); }
    };
    // Shared only with a StopBridge's waiting thread; the token stays move-only.
    std::shared_ptr<me_cancel> c_;
};

#if MONGOELECTOR_HAS_STOP_TOKEN
/// C++20: a CancelToken seen as a std::stop_token. A thread of the bridge's
/// own waits on the token (me_cancel_wait, in slices of kStopBridgeSlice) and
/// requests stop on the bridge's std::stop_source when the token is
/// cancelled, then ends. The destructor stops and joins that thread (within
/// one slice); the token's handle is shared with the thread, so the
/// CancelToken may go first. A std::stop_token taken from the bridge stays
/// valid after it. Move-only.
///
///   mongoelector::StopBridge stop(lease->token);
///   std::jthread worker(job, stop.get_token());
class StopBridge {
public:
    /// The slice of the waiting thread's me_cancel_wait: the longest a
    /// destructor waits for it.
    static constexpr double kStopBridgeSlice = 0.05;

    /// InvalidState for a moved-from token.
    explicit StopBridge(const CancelToken& token) : c_(shared(token)) {
        waiter_ = std::jthread([c = c_, source = source_](std::stop_token quit) mutable {
            while (!quit.stop_requested()) {
                if (::me_cancel_wait(c.get(), kStopBridgeSlice)) {
                    source.request_stop();
                    return;
                }
            }
        });
    }
    StopBridge(StopBridge&&) noexcept = default;
    StopBridge& operator=(StopBridge&&) noexcept = default;
    StopBridge(const StopBridge&) = delete;
    StopBridge& operator=(const StopBridge&) = delete;
    ~StopBridge() = default;

    /// Stop is requested on it once the token is cancelled.
    std::stop_token get_token() const noexcept { return source_.get_token(); }
    bool stop_requested() const noexcept { return source_.stop_requested(); }

private:
    static std::shared_ptr<me_cancel> shared(const CancelToken& token) {
        if (!token.c_) throw InvalidState("use of a moved-from mongoelector::CancelToken");
        return token.c_;
    }
    std::stop_source source_;
    std::shared_ptr<me_cancel> c_;
    std::jthread waiter_;  // last: stopped and joined first
};
#endif

/// The cancellation of one call, the trailing argument of every call that
/// talks to the database: none (the default), a CancelToken, or in C++20 a
/// std::stop_token (a std::stop_callback cancels a token of the call's own;
/// a stop already requested cancels the call before it starts). Lives for the
/// call: write `lock.acquire({}, token)` or `lock.lock(stop_token)`.
class Cancel {
public:
    Cancel() noexcept = default;
    Cancel(const CancelToken& token) : c_(token.capi()) {  // NOLINT(google-explicit-constructor)
        if (c_ == nullptr) throw InvalidState("use of a moved-from mongoelector::CancelToken");
    }
#if MONGOELECTOR_HAS_STOP_TOKEN
    Cancel(std::stop_token stop) {  // NOLINT(google-explicit-constructor)
        if (!stop.stop_possible()) return;
        own_.emplace();
        c_ = own_->capi();
        on_stop_.emplace(std::move(stop), OnStop{c_});
    }
#endif
    Cancel(const Cancel&) = delete;
    Cancel& operator=(const Cancel&) = delete;

    /// The call's me_cancel (NULL: none).
    const me_cancel* capi() const noexcept { return c_; }

private:
    const me_cancel* c_ = nullptr;
#if MONGOELECTOR_HAS_STOP_TOKEN
    struct OnStop {
        const me_cancel* c;
        void operator()() const noexcept { ::me_cancel_cancel(c); }
    };
    // Declared in this order: the callback goes (waiting for a running one)
    // before the token it cancels is freed.
    std::optional<CancelToken> own_;
    std::optional<std::stop_callback<OnStop>> on_stop_;
#endif
};

// ---------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------

/// The live lock of a key (Locker::current(), me_current_lock).
struct CurrentLock {
    std::string key;
    bool locked = false;  ///< always true: a free lock has no record
    std::string host;
    std::string uuid;
    std::int64_t pid = 0;
    TimePoint ts_created{};  ///< when the holding began
    TimePoint ts_expire{};   ///< when its lease ends
    std::int64_t fence = 0;  ///< the fencing token of the holding
};

/// A locker's view of its lock (Locker::status(), me_lock_status).
struct LockStatus {
    std::string uuid;
    std::string key;
    Seconds ttl{0};
    TimePoint timestamp{};  ///< when this view was taken
    std::string host;
    std::int64_t pid = 0;
    bool lock_owned = false;
    std::optional<TimePoint> lock_created;  ///< set only when lock_owned
    std::optional<TimePoint> lock_expires;  ///< set only when lock_owned
    std::optional<std::int64_t> fence;      ///< set only when lock_owned
};

/// One elector's report (LeaderElector::node_status(), ClusterDetail::members).
struct NodeStatus {
    LockStatus lock;
    bool is_leader = false;
    bool elector_running = false;
    std::optional<TimePoint> last_poll;      ///< nullopt before the first poll
    std::optional<std::string> app_version;  ///< nullopt when the elector has none
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
    std::vector<NodeStatus> members;
    std::optional<LeaderInfo> leader;  ///< nullopt when nobody leads
    TimePoint timestamp{};
};

/// The loss signal of one holding (Locker::lease()) or term
/// (LeaderElector::term()): its token is cancelled the moment the holding
/// ends (lease run out, takeover seen, release, stop, close, destruction).
/// Pass the token to calls so they stop with the holding, poll
/// stop_requested(), wait_for() it, or (C++20) wrap it in a StopBridge.
/// Cancelling it yourself ends nothing but the token.
struct Lease {
    CancelToken token;
    std::int64_t fence = 0;  ///< the fencing token of that holding
};

/// The group's leader as an elector last observed it (LeaderElector::leader()).
struct ObservedLeader {
    std::optional<LeaderInfo> leader;   ///< nullopt: the lock was free, or nothing observed yet
    std::optional<TimePoint> observed;  ///< when; nullopt before the first observation
};

/// A health check from memory (LeaderElector::healthy()).
struct Health {
    bool ok = false;
    /// Why: "leading", "following", "renewal overdue", "polls failing or
    /// stuck", "not running" (a static string of the library).
    std::string_view reason;
    explicit operator bool() const noexcept { return ok; }
};

/// A locker's or elector's counters (Locker::stats(), LeaderElector::stats()).
struct Stats {
    std::uint64_t acquisitions = 0;        ///< holdings won (elector: terms)
    std::uint64_t renewals = 0;            ///< renewals written
    std::uint64_t failed_renewals = 0;     ///< renewals that failed
    std::uint64_t losses = 0;              ///< holdings or terms ended without a release
    std::uint64_t takeovers_seen = 0;      ///< of those, ended by another holder seen
    std::uint64_t leader_transitions = 0;  ///< elector: became or stopped being leader
    std::uint64_t round_trips = 0;         ///< database round trips of the lock
    Seconds last_round_trip{0};
    Seconds max_round_trip{0};
    Seconds lease_left{0};  ///< left on the current lease by the holder's clock (0: none)
};

namespace detail {

template <class T, void (*Free)(T*)>
struct RecordDeleter {
    void operator()(T* r) const noexcept { Free(r); }
};
template <class T, void (*Free)(T*)>
using Record = std::unique_ptr<T, RecordDeleter<T, Free>>;

inline CurrentLock convert(const me_current_lock& c) {
    return CurrentLock{str_or_empty(c.key), c.locked, str_or_empty(c.host), str_or_empty(c.uuid), c.pid,
                       from_unix_ms(c.ts_created_ms), from_unix_ms(c.ts_expire_ms), c.fence};
}

inline LockStatus convert(const me_lock_status& c) {
    LockStatus s;
    s.uuid = str_or_empty(c.uuid);
    s.key = str_or_empty(c.key);
    s.ttl = Seconds(c.ttl);
    s.timestamp = from_unix_ms(c.timestamp_ms);
    s.host = str_or_empty(c.host);
    s.pid = c.pid;
    s.lock_owned = c.lock_owned;
    if (c.lock_owned) {
        s.lock_created = from_unix_ms(c.lock_created_ms);
        s.lock_expires = from_unix_ms(c.lock_expires_ms);
        s.fence = c.fence;
    }
    return s;
}

inline NodeStatus convert(const me_node_status& c) {
    NodeStatus n;
    n.lock = convert(c.lock);
    n.is_leader = c.is_leader;
    n.elector_running = c.elector_running;
    if (c.has_last_poll) n.last_poll = from_unix_ms(c.last_poll_ms);
    n.app_version = opt_str(c.app_version);
    return n;
}

inline LeaderInfo convert(const me_leader_info& c) {
    return LeaderInfo{str_or_empty(c.host), c.process_id, str_or_empty(c.uuid), c.fence};
}

inline ClusterDetail convert(const me_cluster_detail& c) {
    ClusterDetail d;
    d.members.reserve(c.member_count);
    for (std::size_t i = 0; i < c.member_count; ++i) d.members.push_back(convert(c.members[i]));
    if (c.has_leader) d.leader = convert(c.leader);
    d.timestamp = from_unix_ms(c.timestamp_ms);
    return d;
}

inline Stats convert(const me_stats& c) {
    Stats s;
    s.acquisitions = c.acquisitions;
    s.renewals = c.renewals;
    s.failed_renewals = c.failed_renewals;
    s.losses = c.losses;
    s.takeovers_seen = c.takeovers_seen;
    s.leader_transitions = c.leader_transitions;
    s.round_trips = c.round_trips;
    s.last_round_trip = Seconds(c.last_round_trip);
    s.max_round_trip = Seconds(c.max_round_trip);
    s.lease_left = Seconds(c.lease_left);
    return s;
}

/// A Lease from an owned token of me_locker_lease_token/me_elector_term_token.
inline std::optional<Lease> lease(me_cancel* owned, std::int64_t fence) {
    if (owned == nullptr) return std::nullopt;
    return Lease{CancelToken(owned), fence};
}

/// Runs a user callback; an exception is caught here and logged, never
/// unwinding into C.
template <class F>
inline void guarded(const char* name, const char* keeps, F&& f) noexcept {
    try {
        f();
    } catch (const std::exception& e) {
        log(static_cast<int>(LogLevel::Error),
            std::string("exception thrown by the ") + name + " callback (caught, " + keeps + "): " + e.what());
    } catch (...) {
        log(static_cast<int>(LogLevel::Error),
            std::string("unknown exception thrown by the ") + name + " callback (caught, " + keeps + ")");
    }
}

}  // namespace detail

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
        detail::call(::me_client_new, detail::c_string(uri, "uri"), &raw);
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

/// Options of a Locker; what is unset keeps the library's default
/// (me_locker_options_init; read the values back with the getters).
struct LockerOptions {
    std::optional<std::string> dbcollection;  ///< collection of the lock documents
    std::optional<Seconds> ttl;               ///< lease length
    std::optional<bool> timeparanoid;         ///< check the host clock against the server before acquiring
    std::optional<Seconds> maxoffset;         ///< largest clock offset the check accepts
    /// Renew a holding in the background until release/close; renewals
    /// failing until the lease ends by this locker's clock lose the holding
    /// (held() turns false, the lease token is cancelled, on_lost runs).
    std::optional<bool> auto_renew;
    /// A holding ended without release/close (lease ran out, takeover seen):
    /// on a library thread, once per holding.
    std::function<void()> on_lost;
};

/// Options of one acquire; what is unset keeps the library's default
/// (me_acquire_options_init: blocking, no timeout, its step, no force).
struct AcquireOptions {
    /// Wait while someone else holds the lock; false: one attempt (LockExists if held).
    std::optional<bool> blocking;
    /// The longest the whole call may take, round trips included (AcquireTimeout);
    /// with blocking=false it bounds the one attempt.
    std::optional<Seconds> timeout;
    /// Time between attempts while the lock is held.
    std::optional<Seconds> step;
    /// Take the lock even from a live holder. Use with care.
    std::optional<bool> force;
};

namespace detail {

/// The getters and reads shared by Locker and LockerView; `D::read_handle()`
/// gives the C handle or throws InvalidState.
template <class D>
class LockerReads {
public:
    std::string key() const { return str_or_empty(::me_locker_key(h())); }
    std::string uuid() const { return str_or_empty(::me_locker_uuid(h())); }
    std::string host() const { return str_or_empty(::me_locker_host(h())); }
    std::string db_name() const { return str_or_empty(::me_locker_db_name(h())); }
    std::string dbcollection() const { return str_or_empty(::me_locker_dbcollection(h())); }
    std::int64_t pid() const { return ::me_locker_pid(h()); }
    /// Fencing token of the latest acquisition; 0 before the first.
    std::int64_t fence() const { return ::me_locker_fence(h()); }
    Seconds ttl() const { return Seconds(::me_locker_ttl(h())); }
    Seconds maxoffset() const { return Seconds(::me_locker_maxoffset(h())); }
    bool timeparanoid() const { return ::me_locker_timeparanoid(h()); }
    /// Expiry of the latest acquisition or renewal; nullopt before the first.
    std::optional<TimePoint> ts_expire() const {
        std::int64_t ms = 0;
        if (!::me_locker_ts_expire(h(), &ms)) return std::nullopt;
        return from_unix_ms(ms);
    }
    /// True while this locker holds the lock by its own clock (no round
    /// trip): not released, lost or seen taken over. owned() asks the server.
    bool held() const { return ::me_locker_held(h()); }
    /// The loss signal and fence of the current (or latest) holding; nullopt
    /// if this locker never held the lock.
    std::optional<Lease> lease() const {
        std::int64_t fence = 0;
        me_cancel* token = ::me_locker_lease_token(h(), &fence);
        return detail::lease(token, fence);
    }
    /// The counters, from memory.
    Stats stats() const {
        me_stats out{};
        if (!::me_locker_stats(h(), &out)) throw InvalidState("me_locker_stats refused the handle");
        return convert(out);
    }

    /// True if anyone holds the lock now (one read).
    bool locked(const Cancel& cancel = Cancel()) const {
        bool out = false;
        call(::me_locker_locked, h(), cancel.capi(), &out);
        return out;
    }
    /// True if this locker holds the lock now (one read).
    bool owned(const Cancel& cancel = Cancel()) const {
        bool out = false;
        call(::me_locker_owned, h(), cancel.capi(), &out);
        return out;
    }
    /// The live lock (whoever holds it), or nullopt when nobody does (one read).
    std::optional<CurrentLock> current(const Cancel& cancel = Cancel()) const {
        me_current_lock* raw = nullptr;
        call(::me_locker_current, h(), cancel.capi(), &raw);
        Record<me_current_lock, ::me_current_lock_free> rec(raw);
        if (!rec) return std::nullopt;
        return convert(*rec);
    }
    /// This locker's view of the lock (one read).
    LockStatus status(const Cancel& cancel = Cancel()) const {
        me_lock_status* raw = nullptr;
        call(::me_locker_status, h(), cancel.capi(), &raw);
        Record<me_lock_status, ::me_lock_status_free> rec(raw);
        return convert(*rec);
    }

protected:
    LockerReads() = default;
    ~LockerReads() = default;

private:
    const me_locker* h() const { return static_cast<const D*>(this)->read_handle(); }
};

}  // namespace detail

namespace detail {
extern "C" {
inline void mongoelector_cpp_on_lost(void* user_data) {
    guarded("on_lost", "the holding is over", [&] { (*static_cast<std::function<void()>*>(user_data))(); });
}
inline void mongoelector_cpp_on_lost_free(void* user_data) {
    guarded("on_lost destructor", "ignored", [&] { delete static_cast<std::function<void()>*>(user_data); });
}
}  // extern "C"
}  // namespace detail

/// A read-only view of the lock an elector runs on (LeaderElector::locker()),
/// valid while the elector lives: getters and reads work; the library refuses
/// mutating calls on it.
class LockerView : public detail::LockerReads<LockerView> {
public:
    explicit LockerView(const me_locker* l) noexcept : l_(l) {}
    const me_locker* capi() const noexcept { return l_; }

private:
    friend class detail::LockerReads<LockerView>;
    const me_locker* read_handle() const {
        if (l_ == nullptr) throw InvalidState("empty mongoelector::LockerView");
        return l_;
    }
    const me_locker* l_;
};

/// A distributed lock on `key` in database `db`.
///
/// There is no nesting count: acquiring a lock this locker holds renews it,
/// and one release frees it. Lockable/TimedLockable:
///   lock()            blocking acquire without timeout
///   try_lock()        ONE attempt bounded by kTryLockBound (1 s); false when
///                     held by someone else or when the bound ran out
///   try_lock_for(d)   blocking acquire, the whole call bounded by d (<= 0: one
///                     attempt); false on timeout
///   try_lock_until(t) the same with a deadline on any clock
///   unlock()          release(); never throws (a failure is logged)
/// try_lock* return false only for contention and timeouts; database and clock
/// failures are thrown (std::lock and std::scoped_lock unlock what they hold
/// and rethrow).
class Locker : public detail::LockerReads<Locker> {
public:
    Locker(const Client& client, const std::string& db, const std::string& key,
           const LockerOptions& options = LockerOptions()) {
        me_locker_options o;
        ::me_locker_options_init(&o);
        if (options.dbcollection) o.dbcollection = detail::c_string(*options.dbcollection, "dbcollection");
        if (options.ttl) o.ttl = options.ttl->count();
        if (options.timeparanoid) o.timeparanoid = *options.timeparanoid;
        if (options.maxoffset) o.maxoffset = options.maxoffset->count();
        if (options.auto_renew) o.auto_renew = *options.auto_renew;
        std::unique_ptr<std::function<void()>> on_lost;
        if (options.on_lost) {
            on_lost.reset(new std::function<void()>(options.on_lost));
            o.on_lost = &detail::mongoelector_cpp_on_lost;
            o.user_data = on_lost.get();
            o.user_data_free = &detail::mongoelector_cpp_on_lost_free;
        }
        me_locker* raw = nullptr;
        detail::call(::me_locker_new, client.handle(), detail::c_string(db, "db_name"), detail::c_string(key, "key"),
                     &o, &raw);
        h_.reset(raw);
        on_lost.release();  // NOLINT(bugprone-unused-return-value): owned by the locker now (user_data_free)
    }

    Locker(Locker&&) noexcept = default;
    /// Closes and frees this locker first (releasing its lock), then takes the other's.
    Locker& operator=(Locker&&) noexcept = default;
    Locker(const Locker&) = delete;
    Locker& operator=(const Locker&) = delete;
    /// close() (releasing the lock if held; a failure is logged), then frees.
    ~Locker() = default;

    explicit operator bool() const noexcept { return static_cast<bool>(h_); }
    me_locker* capi() const noexcept { return h_.get(); }

    /// Acquires the lock as `options` say (unset: the library's defaults;
    /// invalid values are the library's InvalidArgument). Throws LockExists
    /// (non-blocking, held), AcquireTimeout, Cancelled, Closed,
    /// TimeOffsetError, DatabaseError.
    void acquire(const AcquireOptions& options = AcquireOptions(), const Cancel& cancel = Cancel()) {
        me_acquire_options o;
        ::me_acquire_options_init(&o);
        if (options.blocking) o.blocking = *options.blocking;
        if (options.timeout) {
            o.has_timeout = true;
            o.timeout = options.timeout->count();
        }
        if (options.step) o.step = options.step->count();
        if (options.force) o.force = *options.force;
        o.cancel = cancel.capi();
        detail::call(::me_locker_acquire, handle(), &o);
    }

    /// Releases the lock if this locker holds it (with `force`: whoever does);
    /// returns whether a holding was released. Not held: a no-op (false).
    bool release(bool force = false, const Cancel& cancel = Cancel()) {
        bool released = false;
        detail::call(::me_locker_release, handle(), force, cancel.capi(), &released);
        return released;
    }

    /// Renews this locker's holding for another ttl and returns the new
    /// expiry; throws NotOwned when this locker does not hold the lock.
    TimePoint renew(const Cancel& cancel = Cancel()) {
        std::int64_t ms = 0;
        detail::call(::me_locker_touch, handle(), cancel.capi(), &ms);
        return detail::from_unix_ms(ms);
    }

    /// Like renew(), but nullopt when this locker does not hold the lock
    /// (never acquired, released, expired or taken over).
    std::optional<TimePoint> touch(const Cancel& cancel = Cancel()) {
        try {
            return renew(cancel);
        } catch (const NotOwned&) {
            return std::nullopt;
        }
    }

    /// Shuts the locker down: calls waiting on it throw Closed within
    /// milliseconds, then the lock is released if held; later calls throw
    /// Closed, getters keep working. Idempotent and thread-safe.
    void close() { detail::call(::me_locker_close, handle()); }

    // ---- Lockable / TimedLockable ----

    void lock(const Cancel& cancel = Cancel()) { acquire(AcquireOptions(), cancel); }

    bool try_lock(const Cancel& cancel = Cancel()) {
        AcquireOptions o;
        o.blocking = false;
        o.timeout = kTryLockBound;
        return attempt(o, cancel);
    }

    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period>& rel, const Cancel& cancel = Cancel()) {
        // The standard's "zero or negative: one attempt": the library's timeout 0.
        Seconds d = std::chrono::duration_cast<Seconds>(rel);
        AcquireOptions o;
        o.timeout = d < Seconds::zero() ? Seconds::zero() : d;
        return attempt(o, cancel);
    }

    template <class C, class D>
    bool try_lock_until(const std::chrono::time_point<C, D>& abs, const Cancel& cancel = Cancel()) {
        const auto now = C::now();
        // A past deadline is one attempt (and time_point::min() - now would overflow).
        if (abs <= now) return try_lock_for(Seconds::zero(), cancel);
        return try_lock_for(abs - now, cancel);
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
    friend class detail::LockerReads<Locker>;
    const me_locker* read_handle() const { return handle(); }
    me_locker* handle() const {
        if (!h_) throw InvalidState("use of a moved-from mongoelector::Locker");
        return h_.get();
    }
    bool attempt(const AcquireOptions& o, const Cancel& cancel) {
        try {
            acquire(o, cancel);
            return true;
        } catch (const LockExists&) {
            return false;
        } catch (const AcquireTimeout&) {
            return false;
        }
    }
    struct Deleter {
        void operator()(me_locker* l) const noexcept {
            me_error* raw = nullptr;
            if (::me_locker_close(l, &raw) != ME_OK) {
                std::unique_ptr<me_error, detail::ErrorDeleter> err(raw);
                detail::log(static_cast<int>(LogLevel::Warn),
                            std::string("Locker: close on destruction failed: ") + ::me_error_message(err.get()));
            }
            ::me_locker_free(l);
        }
    };
    std::unique_ptr<me_locker, Deleter> h_;
};

// ---------------------------------------------------------------------------
// LeaderElector
// ---------------------------------------------------------------------------

/// Options of a LeaderElector; what is unset keeps the library's default
/// (me_elector_options_init).
struct ElectorOptions {
    std::optional<Seconds> ttl;              ///< leader lease length
    std::function<void()> on_leader;         ///< this elector became leader
    std::function<void()> on_leader_loss;    ///< this elector stopped being leader
    std::function<void()> on_loop;           ///< after each poll cycle
    std::optional<std::string> app_version;  ///< included in status reports
    std::optional<bool> report_status;       ///< write this node's status to the database
    /// The group's leader changed, as this elector's polls read it (on every
    /// elector, leading or not): the new leader, or nullopt for none.
    std::function<void(const std::optional<LeaderInfo>&)> on_new_leader;
};

namespace detail {

/// The callbacks of one elector, on the heap as the C user_data; deleted by
/// the library's user_data_free once no callback can run any more.
struct ElectorCallbacks {
    std::function<void()> on_leader;
    std::function<void()> on_leader_loss;
    std::function<void()> on_loop;
    std::function<void(const std::optional<LeaderInfo>&)> on_new_leader;
};

inline void run_callback(void* user_data, std::function<void()> ElectorCallbacks::*which, const char* name) noexcept {
    guarded(name, "the elector keeps running", [&] {
        const std::function<void()>& f = static_cast<ElectorCallbacks*>(user_data)->*which;
        if (f) f();
    });
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
inline void mongoelector_cpp_on_new_leader(void* user_data, const me_leader_info* leader) {
    guarded("on_new_leader", "the elector keeps running", [&] {
        const auto& f = static_cast<ElectorCallbacks*>(user_data)->on_new_leader;
        if (!f) return;
        std::optional<LeaderInfo> info;
        if (leader != nullptr) info = convert(*leader);
        f(info);
    });
}
inline void mongoelector_cpp_callbacks_free(void* user_data) {
    try {
        delete static_cast<ElectorCallbacks*>(user_data);
    } catch (...) {
        log(static_cast<int>(LogLevel::Error), "exception thrown while destroying the elector callbacks (caught)");
    }
}
}  // extern "C"

}  // namespace detail

/// Leader election among all electors of `key` in database `db`.
///
/// Callbacks run on the elector's thread (a manual poll()'s on the calling
/// thread), never two at once, and none after stop() or close() (from another
/// thread) or the destructor has returned; the on_leader_loss caused by this
/// thread's own stop()/release()/close()/destruction runs before that call
/// returns. stop(), release() and close() may be called from inside a
/// callback; destroying or moving the elector there may not. Lambdas
/// capturing the elector by reference must not outlive it (or follow it
/// across a move).
class LeaderElector {
public:
    LeaderElector(const Client& client, const std::string& db, const std::string& key,
                  ElectorOptions options = ElectorOptions()) {
        me_elector_options o;
        ::me_elector_options_init(&o);
        if (options.ttl) o.ttl = options.ttl->count();
        if (options.app_version) o.app_version = detail::c_string(*options.app_version, "app_version");
        if (options.report_status) o.report_status = *options.report_status;
        std::unique_ptr<detail::ElectorCallbacks> cbs;
        if (options.on_leader || options.on_leader_loss || options.on_loop || options.on_new_leader) {
            o.on_leader = options.on_leader ? &detail::mongoelector_cpp_on_leader : nullptr;
            o.on_leader_loss = options.on_leader_loss ? &detail::mongoelector_cpp_on_leader_loss : nullptr;
            o.on_loop = options.on_loop ? &detail::mongoelector_cpp_on_loop : nullptr;
            o.on_new_leader = options.on_new_leader ? &detail::mongoelector_cpp_on_new_leader : nullptr;
            cbs.reset(new detail::ElectorCallbacks{std::move(options.on_leader), std::move(options.on_leader_loss),
                                                   std::move(options.on_loop), std::move(options.on_new_leader)});
            o.user_data = cbs.get();
            o.user_data_free = &detail::mongoelector_cpp_callbacks_free;
        }
        me_elector* raw = nullptr;
        detail::call(::me_elector_new, client.handle(), detail::c_string(db, "db_name"), detail::c_string(key, "key"),
                     &o, &raw);
        h_.reset(raw);
        cbs.release();  // NOLINT(bugprone-unused-return-value): owned by the elector now (user_data_free)
    }

    LeaderElector(LeaderElector&&) noexcept = default;
    /// Closes and frees this elector first (its on_leader_loss fires if it
    /// leads), then takes the other's.
    LeaderElector& operator=(LeaderElector&&) noexcept = default;
    LeaderElector(const LeaderElector&) = delete;
    LeaderElector& operator=(const LeaderElector&) = delete;
    /// close() (stopping the elector and releasing leadership, firing
    /// on_leader_loss on this thread if leading; a failure is logged), then frees.
    ~LeaderElector() = default;

    explicit operator bool() const noexcept { return static_cast<bool>(h_); }
    me_elector* capi() const noexcept { return h_.get(); }

    /// Starts the elector thread; with `blocking`, runs the loop on this thread
    /// until stop() or close() (from a callback or another thread). InvalidState if running.
    void start(bool blocking = false) { detail::call(::me_elector_start, handle(), blocking); }
    /// Stops the elector and releases leadership; it may be started again.
    void stop() { detail::call(::me_elector_stop, handle()); }
    /// One poll cycle on this thread, then the callbacks of what happened.
    void poll() { detail::call(::me_elector_poll, handle()); }
    /// Gives up leadership now; a running elector competes again after a while.
    void release() { detail::call(::me_elector_release, handle()); }
    /// Stops the elector for good and releases leadership, then returns once
    /// no callback runs on another thread; later calls throw Closed, getters
    /// keep working. Idempotent and thread-safe.
    void close() { detail::call(::me_elector_close, handle()); }

    /// True while this elector leads and its lease lasts (no database call).
    bool is_leader() const { return ::me_elector_is_leader(handle()); }
    /// True if any elector of the group leads now (one read).
    bool leader_exists(const Cancel& cancel = Cancel()) const {
        bool out = false;
        detail::call(::me_elector_leader_exists, handle(), cancel.capi(), &out);
        return out;
    }
    bool running() const { return ::me_elector_running(handle()); }
    /// Time until the next poll of a running elector; a quarter ttl otherwise.
    Seconds poll_wait() const { return Seconds(::me_elector_poll_wait(handle())); }
    Seconds ttl() const { return Seconds(::me_elector_ttl(handle())); }
    std::string key() const { return detail::str_or_empty(::me_elector_key(handle())); }
    /// The lock the election runs on, read-only (valid while this elector lives).
    LockerView locker() const { return LockerView(::me_elector_locker(handle())); }

    /// The current term's loss signal and fence while this elector leads
    /// (nullopt when not): the token is cancelled the moment the term ends
    /// (lease run out, taken, release, stop, close), on time even while a
    /// callback holds the elector's thread.
    std::optional<Lease> term() const {
        std::int64_t fence = 0;
        me_cancel* token = ::me_elector_term_token(handle(), &fence);
        return detail::lease(token, fence);
    }
    /// The group's leader as this elector last observed it (from memory).
    ObservedLeader leader() const {
        me_leader_info* raw = nullptr;
        std::int64_t ms = 0;
        detail::call(::me_elector_leader, handle(), &raw, &ms);
        detail::Record<me_leader_info, ::me_leader_info_free> rec(raw);
        ObservedLeader out;
        if (rec) out.leader = detail::convert(*rec);
        if (ms != 0) out.observed = detail::from_unix_ms(ms);
        return out;
    }
    /// A health check for probes, from memory: false for a leader whose last
    /// renewal is older than `tolerance` (nullopt: its lease), for polls
    /// failing or stuck, or when not running.
    Health healthy(std::optional<Seconds> tolerance = std::nullopt) const {
        const char* reason = nullptr;
        bool ok = ::me_elector_healthy(handle(), tolerance ? tolerance->count() : 0.0, &reason);
        return Health{ok, reason != nullptr ? std::string_view(reason) : std::string_view()};
    }
    /// The counters (its lock's, plus leader transitions), from memory.
    Stats stats() const {
        me_stats out{};
        if (!::me_elector_stats(handle(), &out)) throw InvalidState("me_elector_stats refused the handle");
        return detail::convert(out);
    }

    /// This node's status (one read).
    NodeStatus node_status(const Cancel& cancel = Cancel()) const {
        me_node_status* raw = nullptr;
        detail::call(::me_elector_node_status, handle(), cancel.capi(), &raw);
        detail::Record<me_node_status, ::me_node_status_free> rec(raw);
        return detail::convert(*rec);
    }
    /// The live members and the leader, taken from the lock itself (two reads).
    ClusterDetail cluster_detail(const Cancel& cancel = Cancel()) const {
        me_cluster_detail* raw = nullptr;
        detail::call(::me_elector_cluster_detail, handle(), cancel.capi(), &raw);
        detail::Record<me_cluster_detail, ::me_cluster_detail_free> rec(raw);
        return detail::convert(*rec);
    }

private:
    me_elector* handle() const {
        if (!h_) throw InvalidState("use of a moved-from mongoelector::LeaderElector");
        return h_.get();
    }
    struct Deleter {
        void operator()(me_elector* e) const noexcept {
            me_error* raw = nullptr;
            if (::me_elector_close(e, &raw) != ME_OK) {
                std::unique_ptr<me_error, detail::ErrorDeleter> err(raw);
                detail::log(static_cast<int>(LogLevel::Warn),
                            std::string("LeaderElector: close on destruction failed: ") + ::me_error_message(err.get()));
            }
            ::me_elector_free(e);  // then user_data_free deletes the callbacks
        }
    };
    std::unique_ptr<me_elector, Deleter> h_;
};

}  // namespace mongoelector

#endif  // MONGOELECTOR_HPP
