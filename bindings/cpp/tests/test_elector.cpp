// LeaderElector against the test server: every method, callbacks (threads,
// order, exceptions, stop/release from inside), failover and move semantics.
#include "common.hpp"

#include <future>
#include <mutex>
#include <thread>
#include <vector>

using namespace mongoelector;
using namespace std::chrono_literals;
using metest::db_name;
using metest::eventually;
using metest::uri;

namespace {

/// Records the callbacks of one elector: counts, order and threads.
struct Recorder {
    std::mutex m;
    std::vector<std::string> events;  // "leader" / "loss" (on_loop is only counted)
    std::vector<std::thread::id> threads;
    std::atomic<int> leader{0}, loss{0}, loop{0};

    void add(const char* what) {
        std::lock_guard<std::mutex> g(m);
        events.emplace_back(what);
        threads.push_back(std::this_thread::get_id());
    }
    ElectorOptions options(double ttl = 4) {
        ElectorOptions o;
        o.ttl = Seconds(ttl);
        o.on_leader = [this] {
            ++leader;
            add("leader");
        };
        o.on_leader_loss = [this] {
            ++loss;
            add("loss");
        };
        o.on_loop = [this] { ++loop; };
        return o;
    }
    std::vector<std::string> snapshot() {
        std::lock_guard<std::mutex> g(m);
        return events;
    }
};

struct ElectorTest : metest::ServerTest {};

/// Captures this header's log messages (exceptions from callbacks) for one test.
struct LogCapture {
    std::shared_ptr<std::pair<std::mutex, std::vector<std::string>>> seen =
        std::make_shared<std::pair<std::mutex, std::vector<std::string>>>();
    LogCapture() {
        auto s = seen;
        set_log_handler(
            [s](LogLevel, const std::string& msg) {
                std::lock_guard<std::mutex> g(s->first);
                s->second.push_back(msg);
            },
            LogLevel::Warn);
    }
    ~LogCapture() { set_log_handler(nullptr); }
    bool contains(const std::string& needle) {
        std::lock_guard<std::mutex> g(seen->first);
        for (auto& m : seen->second)
            if (m.find(needle) != std::string::npos) return true;
        return false;
    }
};

}  // namespace

TEST_F(ElectorTest, StartLeadReportAndStop) {
    Recorder rec;
    ElectorOptions o = rec.options();
    o.app_version = "cpp-test-1.0";
    LeaderElector e(client, db, "group", o);
    EXPECT_EQ(e.key(), "group");
    EXPECT_EQ(e.ttl(), 4s);
    EXPECT_FALSE(e.running());
    EXPECT_FALSE(e.is_leader());
    EXPECT_GT(e.poll_wait().count(), 0.0);
    EXPECT_LE(e.poll_wait().count(), 4.0);
    LockerView mlock = e.locker();
    EXPECT_EQ(mlock.key(), "group");
    EXPECT_EQ(mlock.uuid().size(), 36u);
    EXPECT_EQ(mlock.pid(), static_cast<std::int64_t>(::getpid()));
    EXPECT_FALSE(mlock.host().empty());
    EXPECT_EQ(mlock.fence(), 0);
    EXPECT_EQ(mlock.ttl(), 4s);
    EXPECT_EQ(mlock.dbcollection(), "elector.locks");
    EXPECT_EQ(mlock.db_name(), db);
    EXPECT_GT(mlock.maxoffset(), 0s);
    EXPECT_FALSE(mlock.owned());
    EXPECT_FALSE(mlock.ts_expire().has_value());

    e.start();
    EXPECT_TRUE(e.running());
    EXPECT_THROW(e.start(), InvalidState);
    ASSERT_TRUE(eventually([&] { return e.is_leader(); }));
    ASSERT_TRUE(eventually([&] { return rec.leader.load() == 1 && rec.loop.load() >= 1; }));
    EXPECT_EQ(rec.loss.load(), 0);
    EXPECT_TRUE(e.leader_exists());
    EXPECT_GT(mlock.fence(), 0);
    EXPECT_TRUE(mlock.ts_expire().has_value());
    EXPECT_GT(e.poll_wait().count(), 0.0);
    EXPECT_LE(e.poll_wait().count(), 4.0);
    {
        std::lock_guard<std::mutex> g(rec.m);
        EXPECT_NE(rec.threads.at(0), std::this_thread::get_id()) << "on_leader ran on the caller's thread";
    }

    NodeStatus node = e.node_status();
    EXPECT_TRUE(node.is_leader);
    EXPECT_TRUE(node.elector_running);
    EXPECT_TRUE(node.lock.lock_owned);
    EXPECT_EQ(node.lock.uuid, mlock.uuid());
    EXPECT_EQ(node.lock.key, "group");
    EXPECT_EQ(node.lock.fence, mlock.fence());
    EXPECT_EQ(node.app_version, std::optional<std::string>("cpp-test-1.0"));
    EXPECT_TRUE(node.last_poll.has_value());
    EXPECT_EQ(node.lock.ttl, 4s);
    EXPECT_TRUE(mlock.owned());
    EXPECT_EQ(mlock.current()->uuid, mlock.uuid());

    ClusterDetail cluster;
    ASSERT_TRUE(eventually([&] {
        cluster = e.cluster_detail();
        return !cluster.members.empty();
    }));
    ASSERT_TRUE(cluster.leader.has_value());
    EXPECT_EQ(cluster.leader->uuid, mlock.uuid());
    EXPECT_EQ(cluster.leader->process_id, mlock.pid());
    EXPECT_EQ(cluster.leader->host, mlock.host());
    EXPECT_EQ(cluster.leader->fence, mlock.fence());
    EXPECT_EQ(cluster.members.at(0).lock.uuid, mlock.uuid());
    EXPECT_EQ(cluster.members.at(0).app_version, std::optional<std::string>("cpp-test-1.0"));
    EXPECT_GT(cluster.timestamp, std::chrono::system_clock::now() - 60s);

    e.stop();
    // The loss caused by our own stop() fired on this thread before stop() returned.
    EXPECT_EQ(rec.loss.load(), 1);
    {
        std::lock_guard<std::mutex> g(rec.m);
        EXPECT_EQ(rec.threads.back(), std::this_thread::get_id());
    }
    EXPECT_EQ(rec.snapshot(), (std::vector<std::string>{"leader", "loss"}));
    EXPECT_FALSE(e.running());
    EXPECT_FALSE(e.is_leader());
    EXPECT_FALSE(e.leader_exists());
    EXPECT_FALSE(e.node_status().is_leader);
    EXPECT_FALSE(e.cluster_detail().leader.has_value());
    int loops = rec.loop.load();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(rec.loop.load(), loops) << "a callback ran after stop() returned";
    EXPECT_NO_THROW(e.stop());  // stopping a stopped elector is harmless
}

TEST_F(ElectorTest, ManualPollAndRelease) {
    Recorder rec;
    LeaderElector e(client, db, "manual", rec.options());
    e.poll();  // callbacks of a manual poll run on this thread, before poll() returns
    EXPECT_TRUE(e.is_leader());
    EXPECT_EQ(rec.leader.load(), 1);
    EXPECT_EQ(rec.loop.load(), 1);
    EXPECT_FALSE(e.running());
    {
        std::lock_guard<std::mutex> g(rec.m);
        EXPECT_EQ(rec.threads.at(0), std::this_thread::get_id());
    }
    e.poll();  // renews
    EXPECT_TRUE(e.is_leader());
    EXPECT_EQ(rec.leader.load(), 1);
    e.release();
    EXPECT_FALSE(e.is_leader());
    EXPECT_EQ(rec.loss.load(), 1);
    EXPECT_FALSE(e.leader_exists());
    EXPECT_NO_THROW(e.release());  // not leading: nothing to do
    EXPECT_EQ(rec.loss.load(), 1);
}

TEST_F(ElectorTest, OnlyOneLeaderAndFailover) {
    Recorder ra, rb;
    auto a = std::make_unique<LeaderElector>(client, db, "failover", ra.options(2));
    LeaderElector b(client, db, "failover", rb.options(2));
    a->start();
    ASSERT_TRUE(eventually([&] { return a->is_leader(); }));
    b.start();
    // b sees a leader and does not lead while a renews.
    ASSERT_TRUE(eventually([&] { return rb.loop.load() >= 2; }));
    EXPECT_FALSE(b.is_leader());
    EXPECT_TRUE(b.leader_exists());
    EXPECT_EQ(rb.leader.load(), 0);
    ClusterDetail c = b.cluster_detail();
    ASSERT_TRUE(c.leader.has_value());
    EXPECT_EQ(c.leader->uuid, a->locker().uuid());

    a->stop();  // releases: b takes over within about a quarter ttl
    EXPECT_EQ(ra.loss.load(), 1);
    ASSERT_TRUE(eventually([&] { return b.is_leader(); }));
    // is_leader() turns true just before on_leader is dispatched.
    ASSERT_TRUE(eventually([&] { return rb.leader.load() == 1; }));
    EXPECT_GT(b.locker().fence(), a->locker().fence());

    // Destroying a running leader stops it: the loss fires before the destructor returns.
    auto fence_b = b.locker().fence();
    {
        LeaderElector moved = std::move(b);
        EXPECT_FALSE(b);
    }
    EXPECT_EQ(rb.loss.load(), 1);
    a->start();
    ASSERT_TRUE(eventually([&] { return a->is_leader(); }));
    EXPECT_GT(a->locker().fence(), fence_b);
    a.reset();
    EXPECT_EQ(ra.loss.load(), 2);
}

TEST_F(ElectorTest, StopFromInsideACallback) {
    Recorder rec;
    LeaderElector* self = nullptr;
    ElectorOptions o = rec.options();
    o.on_leader = [&] {
        ++rec.leader;
        rec.add("leader");
        self->stop();  // only asks the thread to stop: no deadlock
    };
    LeaderElector e(client, db, "selfstop", o);
    self = &e;
    e.start();
    ASSERT_TRUE(eventually([&] { return rec.leader.load() == 1 && !e.running(); }));
    ASSERT_TRUE(eventually([&] { return rec.loss.load() == 1; }));
    EXPECT_FALSE(e.is_leader());
    EXPECT_FALSE(e.leader_exists());
    EXPECT_EQ(rec.snapshot(), (std::vector<std::string>{"leader", "loss"}));
}

TEST_F(ElectorTest, ReleaseFromInsideACallback) {
    Recorder rec;
    LeaderElector* self = nullptr;
    ElectorOptions o = rec.options();
    std::atomic<bool> released{false};
    o.on_leader = [&] {
        ++rec.leader;
        rec.add("leader");
        if (!released.exchange(true)) self->release();
    };
    LeaderElector e(client, db, "selfrelease", o);
    self = &e;
    e.start();
    ASSERT_TRUE(eventually([&] { return rec.loss.load() >= 1; }));
    EXPECT_TRUE(e.running());
    // The elector competes again after its hold-off and leads once more.
    ASSERT_TRUE(eventually([&] { return rec.leader.load() >= 2; }));
    e.stop();
    auto ev = rec.snapshot();
    ASSERT_GE(ev.size(), 3u);
    EXPECT_EQ(ev[0], "leader");
    EXPECT_EQ(ev[1], "loss");
    EXPECT_EQ(ev[2], "leader");
}

TEST_F(ElectorTest, BlockingStartRunsOnTheCallersThread) {
    Recorder rec;
    LeaderElector* self = nullptr;
    ElectorOptions o = rec.options(2);
    std::vector<std::thread::id> loop_threads;
    o.on_loop = [&] {
        loop_threads.push_back(std::this_thread::get_id());
        if (++rec.loop == 3) self->stop();
    };
    LeaderElector e(client, db, "blocking", o);
    self = &e;
    auto runner = std::async(std::launch::async, [&] {
        e.start(true);
        return std::this_thread::get_id();
    });
    ASSERT_EQ(runner.wait_for(60s), std::future_status::ready) << "start(true) did not return after stop()";
    auto runner_id = runner.get();
    EXPECT_EQ(rec.loop.load(), 3);
    for (auto id : loop_threads) EXPECT_EQ(id, runner_id);
    EXPECT_EQ(rec.leader.load(), 1);
    EXPECT_EQ(rec.loss.load(), 1);
    EXPECT_FALSE(e.running());
}

TEST_F(ElectorTest, CallbackExceptionsAreCaughtAndLogged) {
    LogCapture log;
    std::atomic<int> leader{0}, loops{0};
    ElectorOptions o;
    o.ttl = 4s;
    o.on_leader = [&] {
        ++leader;
        throw std::runtime_error("boom from on_leader");
    };
    o.on_loop = [&] {
        ++loops;
        throw 42;  // not even a std::exception
    };
    o.on_leader_loss = [] { throw std::logic_error("boom from on_leader_loss"); };
    LeaderElector e(client, db, "throwing", o);
    e.poll();  // on this thread: nothing may escape
    EXPECT_TRUE(e.is_leader());
    e.start();
    ASSERT_TRUE(eventually([&] { return loops.load() >= 3; }));
    EXPECT_TRUE(e.running());
    EXPECT_TRUE(e.is_leader());
    EXPECT_NO_THROW(e.stop());
    EXPECT_EQ(leader.load(), 1);
    EXPECT_TRUE(log.contains("boom from on_leader"));
    EXPECT_TRUE(log.contains("on_leader callback"));
    EXPECT_TRUE(log.contains("unknown exception thrown by the on_loop callback"));
    EXPECT_TRUE(log.contains("boom from on_leader_loss"));
}

TEST_F(ElectorTest, MoveKeepsCallbacksAndLeavesAnInertObject) {
    Recorder rec;
    LeaderElector a(client, db, "move", rec.options(2));
    a.start();
    ASSERT_TRUE(eventually([&] { return a.is_leader(); }));
    LeaderElector b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_EQ(a.capi(), nullptr);
    EXPECT_THROW(a.start(), InvalidState);
    EXPECT_THROW(a.stop(), InvalidState);
    EXPECT_THROW(a.poll(), InvalidState);
    EXPECT_THROW(a.release(), InvalidState);
    EXPECT_THROW(a.is_leader(), InvalidState);
    EXPECT_THROW(a.leader_exists(), InvalidState);
    EXPECT_THROW(a.running(), InvalidState);
    EXPECT_THROW(a.poll_wait(), InvalidState);
    EXPECT_THROW(a.key(), InvalidState);
    EXPECT_THROW(a.locker(), InvalidState);
    EXPECT_THROW(a.close(), InvalidState);
    EXPECT_THROW(a.node_status(), InvalidState);
    EXPECT_THROW(a.cluster_detail(), InvalidState);
    EXPECT_TRUE(b.running());
    EXPECT_TRUE(b.is_leader());
    int loops = rec.loop.load();
    ASSERT_TRUE(eventually([&] { return rec.loop.load() > loops + 1; }));  // callbacks still reach their box

    // Move-assigning over a running elector stops the target first (its loss fires).
    Recorder rec2;
    LeaderElector c(client, db, "move-other", rec2.options(2));
    c.poll();
    EXPECT_TRUE(c.is_leader());
    c = std::move(b);
    EXPECT_EQ(rec2.loss.load(), 1);
    EXPECT_EQ(rec.loss.load(), 0);
    EXPECT_TRUE(c.is_leader());
    EXPECT_EQ(c.key(), "move");
    LeaderElector& self = c;
    c = std::move(self);
    EXPECT_TRUE(c.running());
    c.stop();
    EXPECT_EQ(rec.loss.load(), 1);
}

TEST_F(ElectorTest, ReportStatusOffLeavesNoMemberReport) {
    ElectorOptions o;
    o.ttl = 4s;
    o.report_status = false;
    LeaderElector quiet(client, db, "quiet", o);
    quiet.poll();
    EXPECT_TRUE(quiet.is_leader());
    ClusterDetail c = quiet.cluster_detail();
    ASSERT_TRUE(c.leader.has_value());
    EXPECT_EQ(c.leader->uuid, quiet.locker().uuid());
    EXPECT_TRUE(c.members.empty());
    EXPECT_FALSE(quiet.node_status().app_version.has_value());
}

TEST_F(ElectorTest, InvalidArguments) {
    ElectorOptions o;
    o.ttl = Seconds(0);
    EXPECT_THROW(LeaderElector(client, db, "k", o), InvalidArgument);
    o.ttl = Seconds(-3);
    EXPECT_THROW(LeaderElector(client, db, "k", o), InvalidArgument);
    o.ttl = Seconds(std::numeric_limits<double>::quiet_NaN());
    EXPECT_THROW(LeaderElector(client, db, "k", o), InvalidArgument);
    EXPECT_THROW(LeaderElector(client, db, "", ElectorOptions()), InvalidArgument);
    EXPECT_THROW(LeaderElector(client, "", "k", ElectorOptions()), InvalidArgument);
}

// ---- close ----

TEST_F(ElectorTest, CloseReleasesLeadershipAndLaterCallsThrowClosed) {
    Recorder rec;
    LeaderElector e(client, db, "close", rec.options());
    LeaderElector other(client, db, "close", ElectorOptions());
    e.start();
    ASSERT_TRUE(eventually([&] { return rec.leader.load() == 1; }));
    e.close();
    EXPECT_EQ(rec.loss.load(), 1) << "on_leader_loss fires before close() returns";
    EXPECT_FALSE(e.is_leader());
    EXPECT_FALSE(e.running());
    EXPECT_FALSE(other.leader_exists()) << "close did not release leadership";
    EXPECT_NO_THROW(e.close());  // idempotent
    EXPECT_THROW(e.start(), Closed);
    EXPECT_THROW(e.poll(), Closed);
    EXPECT_THROW(e.release(), Closed);
    EXPECT_THROW(e.leader_exists(), Closed);
    EXPECT_THROW(e.node_status(), Closed);
    EXPECT_THROW(e.cluster_detail(), Closed);
    EXPECT_EQ(e.key(), "close");  // getters keep working
    EXPECT_EQ(e.ttl(), 4s);
    int loops = rec.loop.load();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(rec.loop.load(), loops) << "a callback ran after close() returned";
}

// close() from another thread while a callback runs returns only once that
// callback has returned, and no callback runs afterwards.
TEST_F(ElectorTest, CloseWhileACallbackRuns) {
    std::atomic<bool> in_callback{false}, callback_done{false};
    std::atomic<int> after_close{0};
    std::atomic<bool> closed{false};
    ElectorOptions o;
    o.ttl = 4s;
    o.on_loop = [&] {
        if (closed) ++after_close;
        if (in_callback.exchange(true)) return;
        std::this_thread::sleep_for(500ms);
        callback_done = true;
    };
    LeaderElector e(client, db, "close-cb", o);
    e.start();
    ASSERT_TRUE(eventually([&] { return in_callback.load(); }));
    auto t0 = std::chrono::steady_clock::now();
    std::thread([&] { e.close(); }).join();
    closed = true;
    EXPECT_TRUE(callback_done.load()) << "close() returned while the callback still ran";
    EXPECT_LT(metest::seconds_since(t0), 10.0);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(after_close.load(), 0);
    EXPECT_FALSE(e.running());
}

// close() from inside a callback flags the stop and returns; the elector
// thread releases on its way out.
TEST_F(ElectorTest, CloseFromInsideACallback) {
    Recorder rec;
    LeaderElector* self = nullptr;
    ElectorOptions o = rec.options();
    o.on_leader = [&] {
        ++rec.leader;
        rec.add("leader");
        self->close();
    };
    LeaderElector e(client, db, "close-self", o);
    self = &e;
    e.start();
    ASSERT_TRUE(eventually([&] { return rec.loss.load() == 1 && !e.running(); }));
    EXPECT_THROW(e.leader_exists(), Closed);
    LeaderElector probe(client, db, "close-self", ElectorOptions());
    EXPECT_FALSE(probe.leader_exists());
}

// Callbacks are freed by the library (user_data_free) when the elector is
// freed: what they capture is destroyed then, and not before.
TEST_F(ElectorTest, CallbackBoxIsFreedWithTheElector) {
    auto witness = std::make_shared<int>(0);
    std::weak_ptr<int> alive = witness;
    {
        ElectorOptions o;
        o.ttl = 4s;
        o.on_loop = [witness] { ++*witness; };
        witness.reset();
        LeaderElector e(client, db, "box", o);
        o.on_loop = nullptr;  // the options' copy goes; the elector's box keeps one
        e.poll();
        EXPECT_FALSE(alive.expired());
        e.close();
        EXPECT_FALSE(alive.expired()) << "freed at close, before free";
    }
    EXPECT_TRUE(alive.expired()) << "the callbacks outlived the elector";
}

// ---- records against what the server holds (read with pymongo) ----

TEST_F(ElectorTest, RecordsMatchTheServersDocuments) {
    ElectorOptions o;
    o.ttl = 6s;
    o.app_version = "records-1";
    LeaderElector leader(client, db, "records", o);
    ElectorOptions fo;
    fo.ttl = 6s;
    LeaderElector follower(client, db, "records", fo);
    auto t0 = std::chrono::system_clock::now();
    leader.poll();
    follower.poll();
    ASSERT_TRUE(leader.is_leader());
    ASSERT_FALSE(follower.is_leader());

    auto lock_doc = metest::server_lock_doc(metest::uri(), db, "elector.locks", "records");
    if (lock_doc.empty()) GTEST_SKIP() << "python3 with pymongo is needed to read the server's documents";
    auto doc = metest::server_status_doc(metest::uri(), db, leader.locker().uuid());
    ASSERT_FALSE(doc.empty());

    // node_status(): this node's report, as stored.
    NodeStatus n = leader.node_status();
    EXPECT_EQ(n.lock.uuid, doc["uuid"]);
    EXPECT_EQ(n.lock.key, doc["key"]);
    EXPECT_EQ(n.lock.ttl, Seconds(std::stod(doc["ttl"])));
    EXPECT_EQ(n.lock.ttl, 6s);
    // The view's timestamp is when it was taken (now), the report's when it was written.
    EXPECT_GE(metest::unix_ms(n.lock.timestamp), std::stoll(doc["timestamp"]));
    EXPECT_LE(n.lock.timestamp, std::chrono::system_clock::now() + 2s);
    EXPECT_EQ(n.lock.host, doc["host"]);
    EXPECT_EQ(std::to_string(n.lock.pid), doc["pid"]);
    EXPECT_EQ(n.lock.lock_owned, doc["lock_owned"] == "true");
    EXPECT_TRUE(n.lock.lock_owned);
    EXPECT_EQ(std::to_string(metest::unix_ms(n.lock.lock_created.value())), doc["lock_created"]);
    EXPECT_EQ(std::to_string(metest::unix_ms(n.lock.lock_expires.value())), doc["lock_expires"]);
    EXPECT_EQ(std::to_string(n.lock.fence.value()), doc["fence"]);
    EXPECT_EQ(n.is_leader, doc["is_leader"] == "true");
    EXPECT_TRUE(n.is_leader);
    EXPECT_EQ(n.elector_running, doc["elector_running"] == "true");
    EXPECT_FALSE(n.elector_running);  // polled by hand
    EXPECT_EQ(std::to_string(metest::unix_ms(n.last_poll.value())), doc["last_poll"]);
    EXPECT_GE(*n.last_poll, t0 - 2s);
    EXPECT_EQ(n.app_version.value(), doc["app_version"]);
    // The lock fields agree with the lock's own head document.
    EXPECT_EQ(std::to_string(n.lock.fence.value()), lock_doc["fence"]);
    EXPECT_EQ(std::to_string(metest::unix_ms(n.lock.lock_created.value())), lock_doc["ts_created"]);

    // The follower's report: no holding, no app_version.
    auto fdoc = metest::server_status_doc(metest::uri(), db, follower.locker().uuid());
    NodeStatus f = follower.node_status();
    EXPECT_FALSE(f.lock.lock_owned);
    EXPECT_EQ(fdoc["lock_owned"], "false");
    EXPECT_FALSE(f.lock.lock_created || f.lock.lock_expires || f.lock.fence);
    EXPECT_EQ(fdoc["fence"], "null");
    EXPECT_FALSE(f.app_version.has_value());
    EXPECT_EQ(fdoc["app_version"], "null");
    EXPECT_FALSE(f.is_leader);

    // cluster_detail(): both members (newest report first) and the leader from the lock.
    ClusterDetail c = follower.cluster_detail();
    ASSERT_EQ(c.members.size(), 2u);
    EXPECT_GE(c.members[0].lock.timestamp, c.members[1].lock.timestamp);
    for (const NodeStatus& m : c.members) {
        auto mdoc = metest::server_status_doc(metest::uri(), db, m.lock.uuid);
        EXPECT_EQ(std::to_string(metest::unix_ms(m.lock.timestamp)), mdoc["timestamp"]);
        EXPECT_EQ(m.is_leader, mdoc["is_leader"] == "true");
        EXPECT_EQ(m.lock.host, mdoc["host"]);
    }
    ASSERT_TRUE(c.leader.has_value());
    EXPECT_EQ(c.leader->uuid, lock_doc["uuid"]);
    EXPECT_EQ(c.leader->host, lock_doc["host"]);
    EXPECT_EQ(std::to_string(c.leader->process_id), lock_doc["pid"]);
    EXPECT_EQ(std::to_string(c.leader->fence), lock_doc["fence"]);
    EXPECT_GE(c.timestamp, t0 - 2s);
    EXPECT_LE(c.timestamp, std::chrono::system_clock::now() + 2s);

    leader.release();
    EXPECT_FALSE(follower.cluster_detail().leader.has_value());
}
