// Observing an election (issue 16): on_new_leader, the observed leader from
// memory, counters. (Health on a frozen server: test_long_work.cpp.)
#include "common.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <utility>

using namespace mongoelector;
using namespace std::chrono_literals;

namespace {

using Seen = std::vector<std::optional<std::pair<std::string, std::int64_t>>>;

/// An elector recording every leader its on_new_leader reports, and (into a
/// shared list of terms) every term it won itself.
struct Observer {
    std::mutex m;
    Seen seen;
    std::atomic<LeaderElector*> self{nullptr};
    std::optional<LeaderElector> e;

    Observer(const Client& client, const std::string& db, Seconds ttl, std::mutex& terms_m, Seen& terms) {
        ElectorOptions o;
        o.ttl = ttl;
        o.on_new_leader = [this](const std::optional<LeaderInfo>& l) {
            std::lock_guard<std::mutex> g(m);
            if (l)
                seen.emplace_back(std::make_pair(l->uuid, l->fence));
            else
                seen.emplace_back(std::nullopt);
        };
        o.on_leader = [this, &terms_m, &terms] {
            LeaderElector* me = self.load();
            if (me == nullptr) return;
            LockerView lv = me->locker();
            std::lock_guard<std::mutex> g(terms_m);
            terms.emplace_back(std::make_pair(lv.uuid(), lv.fence()));
        };
        e.emplace(client, db, "svc", std::move(o));
        self = &*e;
    }
    ~Observer() { e.reset(); }  // closes (callbacks end) before the members they use go

    std::vector<std::pair<std::string, std::int64_t>> leaders() {
        std::lock_guard<std::mutex> g(m);
        return dedup(seen);
    }
    static std::vector<std::pair<std::string, std::int64_t>> dedup(const Seen& s) {
        std::vector<std::pair<std::string, std::int64_t>> out;
        for (const auto& l : s)
            if (l && (out.empty() || out.back() != *l)) out.push_back(*l);
        return out;
    }
};

}  // namespace

struct Observe : metest::ServerTest {};

TEST_F(Observe, ElectorsSeeTheSameLeadersOverAStop) {
    const Seconds ttl = 1s;
    std::mutex terms_m;
    Seen terms;
    std::vector<std::unique_ptr<Observer>> all;
    for (int i = 0; i < 3; ++i) all.push_back(std::make_unique<Observer>(client, db, ttl, terms_m, terms));
    ObservedLeader none = all[0]->e->leader();
    EXPECT_FALSE(none.leader.has_value());
    EXPECT_FALSE(none.observed.has_value()) << "nothing observed before the first poll";
    for (auto& o : all) o->e->start();
    auto leader_of = [&](const std::vector<Observer*>& os) -> Observer* {
        for (Observer* o : os)
            if (o->e->is_leader()) return o;
        return nullptr;
    };
    std::vector<Observer*> everyone{all[0].get(), all[1].get(), all[2].get()};
    ASSERT_TRUE(metest::eventually([&] { return leader_of(everyone) != nullptr; }, 10s));
    std::this_thread::sleep_for(ttl);
    Observer* first = leader_of(everyone);
    ASSERT_NE(first, nullptr);
    first->e->stop();  // a graceful stop of the first leader
    std::vector<Observer*> rest;
    for (Observer* o : everyone)
        if (o != first) rest.push_back(o);
    ASSERT_TRUE(metest::eventually([&] { return leader_of(rest) != nullptr; }, 10s)) << "no failover";
    std::this_thread::sleep_for(ttl * 2);  // every follower polls the new leader

    Seen truth_raw;
    {
        std::lock_guard<std::mutex> g(terms_m);
        truth_raw = terms;
    }
    auto truth = Observer::dedup(truth_raw);
    ASSERT_EQ(truth.size(), 2u) << "two terms";
    EXPECT_LT(truth[0].second, truth[1].second) << "fences increase";
    for (Observer* o : rest) EXPECT_EQ(o->leaders(), truth) << "a running elector saw every leader";
    auto stopped = first->leaders();
    ASSERT_FALSE(stopped.empty());
    EXPECT_EQ(stopped.front(), truth.front()) << "the stopped one saw the first leader";
    for (Observer* o : everyone)
        for (const auto& l : o->leaders())
            EXPECT_NE(std::find(truth.begin(), truth.end(), l), truth.end()) << l.first << " never held the lock";

    for (Observer* o : rest) {
        ObservedLeader now = o->e->leader();
        ASSERT_TRUE(now.leader.has_value());
        EXPECT_EQ(std::make_pair(now.leader->uuid, now.leader->fence), truth.back());
        ASSERT_TRUE(now.observed.has_value());
        auto age = std::chrono::system_clock::now() - *now.observed;
        EXPECT_LT(age, 30s) << "observed long ago";
        EXPECT_GT(age, -30s) << "observed in the future";
        EXPECT_FALSE(now.leader->host.empty());
        EXPECT_GT(now.leader->process_id, 0);
    }
    for (auto& o : all) o->e->close();
}

TEST_F(Observe, CountersMatchWhatWasDone) {
    Locker l(client, db, "k", metest::short_ttl(30));
    Stats s = l.stats();
    EXPECT_EQ(s.acquisitions, 0u);
    EXPECT_EQ(s.round_trips, 0u);
    const unsigned n = 3, m = 2;
    for (unsigned i = 0; i < n; ++i) {
        l.lock();
        for (unsigned j = 0; j < m; ++j) l.renew();
        EXPECT_TRUE(l.release());
    }
    s = l.stats();
    EXPECT_EQ(s.acquisitions, n);
    EXPECT_EQ(s.renewals, n * m);
    EXPECT_EQ(s.losses, 0u);
    EXPECT_EQ(s.failed_renewals, 0u);
    EXPECT_GE(s.round_trips, n * (m + 1));
    EXPECT_GE(s.max_round_trip, s.last_round_trip);
    EXPECT_GT(s.max_round_trip, Seconds::zero());
    EXPECT_EQ(s.lease_left, Seconds::zero()) << "released: no lease";

    l.lock();
    EXPECT_GT(l.stats().lease_left, 25s);
    Locker taker(client, db, "k", metest::short_ttl(30));
    taker.acquire(metest::opts(true, 10s, {}, true));  // force
    EXPECT_FALSE(l.owned());
    s = l.stats();
    EXPECT_EQ(s.losses, 1u);
    EXPECT_EQ(s.takeovers_seen, 1u);
    EXPECT_EQ(s.lease_left, Seconds::zero());

    const Seconds ttl = 1s;
    ElectorOptions eo;
    eo.ttl = ttl;
    LeaderElector e(client, db, "g", eo);
    e.start();
    ASSERT_TRUE(metest::eventually([&] { return e.is_leader(); }, 10s));
    std::this_thread::sleep_for(ttl);
    e.stop();
    s = e.stats();
    EXPECT_EQ(s.acquisitions, 1u);
    EXPECT_EQ(s.leader_transitions, 2u);
    EXPECT_EQ(s.losses, 0u);
    EXPECT_GE(s.renewals, 2u);
    // The elector's lock view reads the same counters' lock part.
    EXPECT_EQ(e.locker().stats().acquisitions, 1u);
}
