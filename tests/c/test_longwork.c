/* Work longer than a ttl (issue 15) and the hardening of issue 14, through the C ABI:
 *  - auto_renew: a job of 5 x ttl stays held throughout (another locker cannot acquire,
 *    me_locker_held stays true, the fence and the lease token stay), a release ends it;
 *  - a forced takeover by another locker cancels the lease token within one renewal period,
 *    on_lost fires once with its user_data, user_data_free runs once at free;
 *  - a frozen server (a private one, SIGSTOP) makes the holding lost before its lease ends by
 *    the monotonic clock; after the thaw another locker takes it, and the first never renews
 *    over it;
 *  - the lease token's life (NULL before a holding, cancelled by release, close and free);
 *  - me_locker_stats: n acquisitions and m touches counted, a loss and a takeover seen;
 *  - ttl 0.001 refused by me_locker_new and me_elector_new, auto_renew with ttl <= 2 x
 *    maxoffset refused, a key of 1 MiB + 1 byte refused with a short message.
 * The whole program is bounded by alarm() (server.h: a hang kills the private server too). */
#define _POSIX_C_SOURCE 200809L

#include "server.h"

/* The longest key the library accepts: 1 MiB (issue 14). */
#define KEY_LIMIT ((size_t)1 << 20)

static me_client *client;
static char db[64];
static bool memcheck;

/* on_lost's and user_data_free's record, the options' user_data. */
struct lost {
  int lost, freed, bad_user_data;
  int64_t lost_ns;
};

static struct lost *expected_lost;

static void on_lost(void *ud) {
  struct lost *r = ud;
  if (ud != (void *)expected_lost) __atomic_add_fetch(&r->bad_user_data, 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&r->lost_ns, mono_ns(), __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&r->lost, 1, __ATOMIC_SEQ_CST);
}

static void on_free(void *ud) {
  struct lost *r = ud;
  __atomic_add_fetch(&r->freed, 1, __ATOMIC_SEQ_CST);
}

static int count(int *n) { return __atomic_load_n(n, __ATOMIC_SEQ_CST); }

static bool wait_count(int *n, int want, double secs) {
  int64_t end = mono_ns() + (int64_t)(secs * 1e9);
  while (count(n) < want && mono_ns() < end) sleep_ms(5);
  return count(n) >= want;
}

/* An auto-renewing locker (timeparanoid off: the clock check is not what these tests are
 * about, and under valgrind its first round trip is slow), with on_lost/user_data_free on `r`. */
static me_locker *renewing(me_client *c, const char *key, double ttl, double maxoffset, struct lost *r) {
  me_locker_options o;
  me_locker_options_init(&o);
  o.ttl = ttl;
  o.maxoffset = maxoffset;
  o.timeparanoid = false;
  o.auto_renew = true;
  if (r) {
    o.on_lost = on_lost;
    o.user_data = r;
    o.user_data_free = on_free;
  }
  me_locker *l = NULL;
  REQUIRE_OK(me_locker_new(c, db, key, &o, &l, &err));
  return l;
}

static me_locker *plain(me_client *c, const char *key, double ttl) {
  me_locker_options o;
  me_locker_options_init(&o);
  o.ttl = ttl;
  o.timeparanoid = false;
  me_locker *l = NULL;
  REQUIRE_OK(me_locker_new(c, db, key, &o, &l, &err));
  return l;
}

/* The counters of a locker (me_locker_stats must succeed). Read before a CHECK whose message
 * prints them: a call inside CHECK's condition may run after its arguments are read. */
static me_stats lstats(const me_locker *l) {
  me_stats s;
  memset(&s, 0xff, sizeof s);
  bool ok = me_locker_stats(l, &s);
  if (!ok) CHECK(false, "me_locker_stats returned false");
  return s;
}

static void close_free(me_locker *l) {
  EXPECT_ST(me_locker_close(l, &err), ME_OK);
  me_locker_free(l);
}

/* ---- issue 14: arguments refused up front ---- */

static void hardening(void) {
  section("hardening: ttl 0.001, auto_renew's clock margin, a key of 1 MiB + 1 byte");
  me_locker_options lo;
  me_locker_options_init(&lo);
  lo.ttl = 0.001;
  me_locker *l = NULL;
  EXPECT_ST(me_locker_new(client, db, "k", &lo, &l, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(l == NULL, "no locker made with ttl 0.001");
  me_elector_options eo;
  me_elector_options_init(&eo);
  eo.ttl = 0.001;
  me_elector *e = NULL;
  EXPECT_ST(me_elector_new(client, db, "k", &eo, &e, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(e == NULL, "no elector made with ttl 0.001");
  CHECK(strstr(me_last_error_message(), "ttl") != NULL, "the message names the ttl: \"%s\"", me_last_error_message());

  /* the smallest ttl that is accepted */
  lo.ttl = 0.1;
  EXPECT_ST(me_locker_new(client, db, "k", &lo, &l, &err), ME_OK);
  me_locker_free(l);
  l = NULL;

  /* auto_renew needs ttl > 2 x maxoffset */
  me_locker_options_init(&lo);
  lo.ttl = 1.0;
  lo.maxoffset = 0.5;
  lo.auto_renew = true;
  EXPECT_ST(me_locker_new(client, db, "k", &lo, &l, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(l == NULL, "auto_renew with ttl 1 and maxoffset 0.5 refused");
  lo.maxoffset = 0.4;
  EXPECT_ST(me_locker_new(client, db, "k", &lo, &l, &err), ME_OK);
  CHECK(l != NULL && !me_locker_held(l), "accepted with maxoffset 0.4; not held before an acquire");
  int64_t fence = -1;
  me_cancel *t = me_locker_lease_token(l, &fence);
  CHECK(t == NULL && fence == -1, "no lease token (and no fence written) before a holding");
  me_cancel_free(t);
  me_locker_free(l);
  l = NULL;

  /* keys: 1 MiB accepted (nothing is sent by me_locker_new), 1 MiB + 1 byte refused */
  size_t big = KEY_LIMIT + 1;
  char *key = malloc(big + 1);
  memset(key, 'k', big);
  key[big] = '\0';
  me_error *err = NULL;
  me_status st = me_locker_new(client, db, key, NULL, &l, &err);
  EXPECT_STATUS(st, ME_ERR_INVALID_ARGUMENT, "me_locker_new(key of 1 MiB + 1 byte)");
  size_t mlen = strlen(me_error_message(err));
  CHECK(l == NULL && mlen > 0 && mlen < 1000, "refused with a message of %zu bytes (< 1000): \"%.120s...\"", mlen,
        me_error_message(err));
  me_error_free(err);
  err = NULL;
  st = me_elector_new(client, db, key, NULL, &e, &err);
  EXPECT_STATUS(st, ME_ERR_INVALID_ARGUMENT, "me_elector_new(key of 1 MiB + 1 byte)");
  mlen = strlen(me_error_message(err));
  CHECK(e == NULL && mlen > 0 && mlen < 1000, "the elector's message has %zu bytes (< 1000)", mlen);
  mlen = strlen(me_last_error_message());
  CHECK(mlen < 1000, "me_last_error_message has %zu bytes too", mlen);
  me_error_free(err);
  key[big - 1] = '\0'; /* exactly the limit */
  EXPECT_ST(me_locker_new(client, db, key, NULL, &l, &err), ME_OK);
  me_locker_free(l);
  free(key);
}

/* ---- auto_renew: a job of five ttls ---- */

static void job_of_five_ttls(void) {
  section("auto_renew: a job of 5 x ttl stays held");
  char key[64];
  rand_name(key, sizeof key, "job");
  double ttl = memcheck ? 2.0 : 1.0;
  struct lost r = {0};
  expected_lost = &r;
  me_locker *a = renewing(client, key, ttl, 0.1, &r);
  me_locker *b = plain(client, key, ttl);
  EXPECT_ST(acquire(a, true, 10.0, 0.05, false, &err), ME_OK);
  int64_t fence = me_locker_fence(a), tfence = -1;
  me_cancel *lease = me_locker_lease_token(a, &tfence);
  CHECK(lease != NULL && tfence == fence && fence > 0, "a lease token with the holding's fence (%lld)", (long long)fence);
  int64_t t0 = mono_ns();
  int rounds = 0, not_held = 0, taken = 0, fence_moved = 0, cancelled = 0;
  me_status other = ME_OK;
  while (elapsed_s(t0) < 5 * ttl) {
    if (!me_locker_held(a)) not_held++;
    if (me_locker_fence(a) != fence) fence_moved++;
    if (me_cancel_is_cancelled(lease)) cancelled++;
    me_status st = acquire(b, false, 2.0, 0.05, false, NULL);
    if (st != ME_ERR_LOCK_EXISTS) {
      taken++;
      other = st;
    }
    rounds++;
    sleep_ms(150);
  }
  CHECK(not_held == 0, "me_locker_held true at each of %d checks over %.1f s (5 x ttl %.1f)", rounds, 5 * ttl, ttl);
  CHECK(taken == 0, "another locker could not acquire in %d attempts (%d got %s)", rounds, taken,
        me_status_name((int)other));
  CHECK(fence_moved == 0 && cancelled == 0, "the fence stayed %lld and the lease token uncancelled",
        (long long)fence);
  bool owned = false;
  EXPECT_ST(me_locker_owned(a, NULL, &owned, &err), ME_OK);
  CHECK(owned, "the server says it is still held");
  me_stats s = lstats(a);
  /* a renewal every ttl/4: about 20 in 5 ttls; a generous floor */
  CHECK(s.renewals >= 5 && s.acquisitions == 1 && s.losses == 0,
        "renewed in the background: %llu renewals, %llu acquisitions, %llu losses", (unsigned long long)s.renewals,
        (unsigned long long)s.acquisitions, (unsigned long long)s.losses);
  bool released = false;
  EXPECT_ST(me_locker_release(a, false, NULL, &released, &err), ME_OK);
  CHECK(released && me_cancel_is_cancelled(lease) && !me_locker_held(a), "a release ends the holding and its token");
  EXPECT_ST(acquire(b, false, 5.0, 0.05, false, &err), ME_OK);
  CHECK(me_locker_fence(b) > fence, "the next holder's fence %lld > %lld", (long long)me_locker_fence(b),
        (long long)fence);
  CHECK(count(&r.lost) == 0, "no on_lost for a release");
  me_cancel_free(lease);
  close_free(b);
  close_free(a);
  CHECK(wait_count(&r.freed, 1, 10.0) && count(&r.freed) == 1, "user_data_free ran once (%d)", count(&r.freed));
  CHECK(count(&r.lost) == 0 && r.bad_user_data == 0, "on_lost never ran");
}

/* ---- a forced takeover ---- */

static void forced_takeover(void) {
  section("auto_renew: a forced takeover ends the holding within one renewal period");
  char key[64];
  rand_name(key, sizeof key, "take");
  double ttl = 4.0, period = ttl / 4, slack = memcheck ? 1.5 : 1.0; /* bound < the lease (3.8 s) */
  struct lost r = {0};
  expected_lost = &r;
  me_locker *a = renewing(client, key, ttl, 0.1, &r);
  me_locker *b = plain(client, key, ttl);
  EXPECT_ST(acquire(a, true, 10.0, 0.05, false, &err), ME_OK);
  int64_t fence = me_locker_fence(a);
  me_cancel *lease = me_locker_lease_token(a, NULL);
  CHECK(lease != NULL && !me_cancel_is_cancelled(lease), "held, with a live lease token");
  EXPECT_ST(acquire(b, true, 10.0, 0.05, true, &err), ME_OK);
  int64_t taken = mono_ns();
  bool seen = me_cancel_wait(lease, period + slack);
  double took = elapsed_s(taken);
  CHECK(seen, "me_cancel_wait: the lease token was cancelled %.3f s after the takeover (renewal period %.1f s, "
              "bound %.1f s, lease %.1f s)",
        took, period, period + slack, ttl);
  CHECK(!me_locker_held(a), "me_locker_held false");
  CHECK(wait_count(&r.lost, 1, 2.0), "on_lost ran");
  CHECK(__atomic_load_n(&r.lost_ns, __ATOMIC_SEQ_CST) >= taken, "on_lost ran after the takeover");
  CHECK(r.bad_user_data == 0, "on_lost got its user_data");
  sleep_ms((long)(period * 1500)); /* 1.5 renewal periods: nothing more may happen */
  CHECK(count(&r.lost) == 1, "on_lost ran once (%d)", count(&r.lost));
  bool owned = false;
  EXPECT_ST(me_locker_owned(b, NULL, &owned, &err), ME_OK);
  CHECK(owned, "the taker still holds it: the old holder never renewed over it");
  CHECK(me_locker_fence(a) == fence && me_locker_fence(b) > fence, "fences: old %lld, taker %lld", (long long)fence,
        (long long)me_locker_fence(b));
  me_stats s = lstats(a);
  CHECK(s.losses == 1 && s.takeovers_seen == 1 && s.lease_left == 0.0,
        "stats: %llu loss, %llu takeover seen, lease_left %g", (unsigned long long)s.losses,
        (unsigned long long)s.takeovers_seen, s.lease_left);
  /* closing the old holder releases nothing of the taker's */
  EXPECT_ST(me_locker_close(a, &err), ME_OK);
  EXPECT_ST(me_locker_owned(b, NULL, &owned, &err), ME_OK);
  CHECK(owned, "closing the old holder left the taker's lock alone");
  CHECK(count(&r.freed) == 0, "user_data_free not before me_locker_free");
  me_locker_free(a);
  CHECK(wait_count(&r.freed, 1, 10.0), "user_data_free ran at free");
  sleep_ms(100);
  CHECK(count(&r.freed) == 1 && count(&r.lost) == 1, "user_data_free once (%d), on_lost once (%d)", count(&r.freed),
        count(&r.lost));
  me_cancel_free(lease);
  close_free(b);
}

/* ---- the lease token's life ---- */

static void lease_token_life(void) {
  section("the lease token: per holding, cancelled by release, close and free");
  char key[64];
  rand_name(key, sizeof key, "token");
  me_locker *l = plain(client, key, 30);
  CHECK(me_locker_lease_token(l, NULL) == NULL, "NULL before the first holding");
  EXPECT_ST(acquire(l, true, 10.0, 0.05, false, &err), ME_OK);
  int64_t f1 = 0, f2 = 0;
  me_cancel *t1 = me_locker_lease_token(l, &f1);
  me_cancel *t1b = me_locker_lease_token(l, NULL);
  CHECK(t1 && t1b && f1 == me_locker_fence(l) && me_locker_held(l), "held; token with fence %lld", (long long)f1);
  me_cancel_cancel(t1b);
  CHECK(me_locker_held(l), "cancelling a lease token ends nothing but the token");
  EXPECT_ST(me_locker_touch(l, NULL, NULL, &err), ME_OK);
  EXPECT_ST(me_locker_release(l, false, NULL, NULL, &err), ME_OK);
  CHECK(me_cancel_wait(t1, 0.0), "release cancelled it");
  /* The header says NULL only before the first holding; the core gives NULL once a holding
   * ended too. Either way: never a live token after a release. */
  me_cancel *after = me_locker_lease_token(l, NULL);
  CHECK(after == NULL || me_cancel_is_cancelled(after), "after a release: no live token (%s)",
        after ? "the ended holding's, cancelled" : "NULL");
  me_cancel_free(after);
  EXPECT_ST(acquire(l, true, 10.0, 0.05, false, &err), ME_OK);
  me_cancel *t2 = me_locker_lease_token(l, &f2);
  CHECK(t2 && !me_cancel_is_cancelled(t2) && f2 > f1, "a new holding, a new token (fence %lld)", (long long)f2);
  EXPECT_ST(me_locker_close(l, &err), ME_OK);
  CHECK(me_cancel_is_cancelled(t2), "close cancelled it");
  me_locker_free(l);

  rand_name(key, sizeof key, "tokenfree");
  l = plain(client, key, 30);
  EXPECT_ST(acquire(l, true, 10.0, 0.05, false, &err), ME_OK);
  me_cancel *t3 = me_locker_lease_token(l, NULL);
  me_locker_free(l); /* never releases: the lock stays held until its ttl, but the token ends */
  CHECK(t3 && me_cancel_is_cancelled(t3), "free cancelled it (and the token outlives the locker)");
  me_locker *other = plain(client, key, 30);
  EXPECT_ST(acquire(other, false, 5.0, 0.05, false, &err), ME_ERR_LOCK_EXISTS);
  me_locker_free(other);
  me_cancel_free(t1);
  me_cancel_free(t1b);
  me_cancel_free(t2);
  me_cancel_free(t3);
}

/* ---- counters ---- */

static void stats(void) {
  section("me_locker_stats: acquisitions, touches, a loss and a takeover");
  char key[64];
  rand_name(key, sizeof key, "stats");
  me_locker *l = plain(client, key, 30);
  me_stats s = lstats(l);
  CHECK(s.acquisitions == 0 && s.renewals == 0 && s.losses == 0 && s.lease_left == 0.0,
        "zero before any work");
  CHECK(!me_locker_stats(NULL, &s) && !me_locker_stats(l, NULL), "false for NULL arguments");
  const int n = 3, m = 2;
  for (int i = 0; i < n; i++) {
    EXPECT_ST(acquire(l, true, 10.0, 0.05, false, &err), ME_OK);
    for (int j = 0; j < m; j++) EXPECT_ST(me_locker_touch(l, NULL, NULL, &err), ME_OK);
    EXPECT_ST(me_locker_release(l, false, NULL, NULL, &err), ME_OK);
  }
  s = lstats(l);
  CHECK(s.acquisitions == (uint64_t)n && s.renewals == (uint64_t)(n * m) && s.failed_renewals == 0 && s.losses == 0 &&
            s.takeovers_seen == 0,
        "%d acquisitions (%llu), %d renewals (%llu), no failures or losses", n, (unsigned long long)s.acquisitions,
        n * m, (unsigned long long)s.renewals);
  CHECK(s.round_trips >= (uint64_t)(n * (m + 2)) && s.max_round_trip >= s.last_round_trip && s.max_round_trip > 0,
        "%llu round trips, last %.4f s, max %.4f s", (unsigned long long)s.round_trips, s.last_round_trip,
        s.max_round_trip);
  CHECK(s.leader_transitions == 0, "a locker has no leader transitions");
  EXPECT_ST(acquire(l, true, 10.0, 0.05, false, &err), ME_OK);
  s = lstats(l);
  CHECK(s.lease_left > 25 && s.lease_left <= 30, "lease_left %.3f s of a 30 s ttl",
        s.lease_left);
  me_locker *taker = plain(client, key, 30);
  EXPECT_ST(acquire(taker, true, 10.0, 0.05, true, &err), ME_OK);
  bool owned = true;
  EXPECT_ST(me_locker_owned(l, NULL, &owned, &err), ME_OK);
  CHECK(!owned, "taken over");
  EXPECT_ST(me_locker_touch(l, NULL, NULL, &err), ME_ERR_NOT_OWNED);
  s = lstats(l);
  CHECK(s.losses == 1 && s.takeovers_seen == 1 && s.lease_left == 0.0,
        "after a forced takeover: %llu loss, %llu takeover seen, lease_left %g", (unsigned long long)s.losses,
        (unsigned long long)s.takeovers_seen, s.lease_left);
  CHECK(s.acquisitions == (uint64_t)n + 1, "%d acquisitions (%llu)", n + 1, (unsigned long long)s.acquisitions);
  close_free(taker);
  close_free(l);
}

/* ---- a frozen server ---- */

static void frozen_server(void) {
  section("auto_renew: a frozen server ends the holding before its lease, and the first never renews over the next");
  struct pserver srv;
  if (!pserver_start(&srv)) return;
  me_client *c1 = NULL, *c2 = NULL;
  REQUIRE_OK(me_client_new(srv.uri, &c1, &err));
  REQUIRE_OK(me_client_new(srv.uri, &c2, &err)); /* the other locker's, as another process would have */
  char key[64];
  rand_name(key, sizeof key, "frozen");
  /* the margin between the holder's lease and the server's is 2 x maxoffset */
  double ttl = memcheck ? 4.0 : 2.0, maxoffset = memcheck ? 0.5 : 0.25;
  struct lost r = {0};
  expected_lost = &r;
  me_locker *a = renewing(c1, key, ttl, maxoffset, &r);
  EXPECT_ST(acquire(a, true, 30.0, 0.05, false, &err), ME_OK);
  sleep_ms((long)(ttl * 1000)); /* a few renewals */
  CHECK(me_locker_held(a), "held after a ttl of renewals");
  int64_t fence = me_locker_fence(a);
  me_cancel *lease = me_locker_lease_token(a, NULL);
  me_stats s0 = lstats(a);
  int64_t frozen = mono_ns();
  pserver_freeze(&srv);
  bool lost = me_cancel_wait(lease, 2 * ttl);
  double at = elapsed_s(frozen);
  CHECK(lost, "the lease token was cancelled with the server frozen (%.3f s after the freeze)", at);
  CHECK(at < ttl, "... %.3f s after the freeze: before the lease (ttl %.1f s) ends by the monotonic clock", at, ttl);
  CHECK(wait_count(&r.lost, 1, 2.0), "on_lost ran");
  double lost_at = (double)(__atomic_load_n(&r.lost_ns, __ATOMIC_SEQ_CST) - frozen) / 1e9;
  CHECK(lost_at < ttl, "on_lost ran %.3f s after the freeze (< ttl %.1f s)", lost_at, ttl);
  CHECK(!me_locker_held(a), "me_locker_held false");
  me_stats s1 = lstats(a);
  CHECK(s1.losses == 1 && s1.renewals >= s0.renewals, "stats: %llu loss, %llu renewals",
        (unsigned long long)s1.losses, (unsigned long long)s1.renewals);
  pserver_thaw(&srv);

  me_locker *b = plain(c2, key, 30); /* a long lease: it must outlast the watch below */
  EXPECT_ST(acquire(b, true, 30.0, 0.05, false, &err), ME_OK);
  CHECK(me_locker_fence(b) > fence, "another locker took it after the thaw (fence %lld > %lld)",
        (long long)me_locker_fence(b), (long long)fence);
  /* 1.5 ttl: six of the first holder's renewal periods */
  int64_t t0 = mono_ns();
  int checks = 0, bad = 0;
  while (elapsed_s(t0) < 1.5 * ttl) {
    me_current_lock *cur = NULL;
    me_error *err = NULL;
    me_status st = me_locker_current(b, NULL, &cur, &err);
    if (st != ME_OK || cur == NULL || strcmp(cur->uuid, me_locker_uuid(b)) != 0 || cur->fence != me_locker_fence(b))
      bad++;
    if (me_locker_held(a)) bad++;
    me_current_lock_free(cur);
    me_error_free(err);
    checks++;
    sleep_ms(100);
  }
  CHECK(bad == 0, "for 1.5 ttl the lock stayed the new holder's and the first never held it (%d checks, %d bad)", checks,
        bad);
  me_stats s2 = lstats(a);
  CHECK(s2.renewals == s1.renewals && s2.losses == 1,
        "the first wrote no renewal after its loss (%llu -> %llu)", (unsigned long long)s1.renewals,
        (unsigned long long)s2.renewals);
  EXPECT_ST(me_locker_touch(b, NULL, NULL, &err), ME_OK);
  CHECK(count(&r.lost) == 1, "on_lost once (%d)", count(&r.lost));
  me_cancel_free(lease);
  close_free(b);
  close_free(a);
  CHECK(wait_count(&r.freed, 1, 10.0) && r.bad_user_data == 0, "user_data_free ran");
  me_client_free(c1);
  me_client_free(c2);
  pserver_stop(&srv);
}

int main(void) {
  test_begin("test_longwork");
  memcheck = getenv("ME_TEST_MEMCHECK") != NULL;
  guard(memcheck ? 280 : 200);
  REQUIRE_OK(me_client_new(t_uri, &client, &err));
  warm_up(client);
  rand_name(db, sizeof db, "ctest_longwork");
  hardening();
  stats();
  lease_token_life();
  forced_takeover();
  job_of_five_ttls();
  frozen_server();
  me_client_free(client);
  return test_end();
}
