// try_lock() on a hung server: a private FerretDB (scripts/test-server run
// DIR), frozen with SIGSTOP. try_lock() makes one attempt bounded by
// kTryLockBound, so it must return (false) or throw within that bound, not
// the library's 5-30 s per-call limit.
#include "private_server.hpp"

#include <future>
#include <string>

using namespace mongoelector;
using namespace std::chrono_literals;
using metest::PrivateServer;

TEST(FrozenServer, TryLockReturnsWithinItsBound) {
    PrivateServer server;
    std::optional<Client> client(std::in_place, server.uri());
    std::string db = metest::db_name();
    std::optional<Locker> lock(std::in_place, *client, db, "frozen", metest::short_ttl());
    std::optional<Locker> holder(std::in_place, *client, db, "frozen", metest::short_ttl());
    EXPECT_TRUE(lock->try_lock());  // the server works; connections are made
    EXPECT_TRUE(lock->release());

    server.freeze();
    // Generous margin over the documented bound, far below the 5-30 s call limit.
    const double limit = std::chrono::duration<double>(kTryLockBound).count() + 2.0;
    for (int i = 0; i < 2; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        std::string outcome;
        try {
            outcome = lock->try_lock() ? "acquired" : "false";
        } catch (const Error& e) {
            outcome = std::string("threw ") + e.status_name() + ": " + e.what();
        }
        double took = metest::seconds_since(t0);
        EXPECT_NE(outcome, "acquired");
        EXPECT_LT(took, limit) << "try_lock() on a frozen server took " << took << " s (" << outcome << ")";
        RecordProperty("try_lock_outcome_" + std::to_string(i), outcome);
    }

    // A cancelled call returns promptly whatever it waits on: here a round trip.
    CancelToken token;
    auto waiting = std::async(std::launch::async, [&] {
        try {
            holder->lock(token);
            return std::string("acquired");
        } catch (const Error& e) {
            return std::string(e.status_name());
        }
    });
    std::this_thread::sleep_for(300ms);
    auto t0 = std::chrono::steady_clock::now();
    token.cancel();
    ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
    EXPECT_LT(metest::seconds_since(t0), 0.5);
    EXPECT_EQ(waiting.get(), "ME_ERR_CANCELLED");

    server.thaw();
    lock.reset();
    holder.reset();
    client.reset();
}
