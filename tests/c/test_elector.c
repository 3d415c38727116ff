/* The elector without callbacks: options, me_elector_new's argument checks, NULL handles,
 * getters, the read-only locker view, poll/release/is_leader/leader_exists, start/stop
 * (twice), blocking start, the node_status and cluster_detail records (checked against the
 * lock the other elector reads), report_status, close (releases) apart from free (never
 * releases), free while running. */
#define _POSIX_C_SOURCE 200809L

#include "testlib.h"

static me_client *client;
static char db[64];

static me_elector *new_elector(const char *key, double ttl, const char *app_version, bool report) {
  me_elector_options o;
  me_elector_options_init(&o);
  o.ttl = ttl;
  o.app_version = app_version;
  o.report_status = report;
  return elector_with(client, db, key, &o);
}

static void options_and_bad_args(void) {
  section("me_elector_options_init defaults");
  me_elector_options o;
  memset(&o, 0xCD, sizeof o);
  me_elector_options_init(&o);
  CHECK(o.ttl == 15.0, "ttl == 15 (got %g)", o.ttl);
  CHECK(o.on_leader == NULL && o.on_leader_loss == NULL && o.on_loop == NULL, "no callbacks");
  CHECK(o.user_data == NULL && o.user_data_free == NULL, "user_data and user_data_free NULL");
  CHECK(o.app_version == NULL, "app_version NULL");
  CHECK(o.report_status == true, "report_status true");

  section("me_elector_new argument checks");
  me_elector *sentinel = (me_elector *)&o, *e = sentinel;
#define TRY(call, needle)                                                                      \
  do {                                                                                         \
    e = sentinel;                                                                              \
    EXPECT_ST(call, ME_ERR_INVALID_ARGUMENT);                                                  \
    CHECK(strstr(me_last_error_message(), needle) != NULL, "  message mentions \"%s\": \"%s\"", \
          needle, me_last_error_message());                                                    \
    CHECK(e == sentinel, "  *out unchanged");                                                  \
  } while (0)
  TRY(me_elector_new(NULL, db, "k", NULL, &e, &err), "client");
  TRY(me_elector_new(client, NULL, "k", NULL, &e, &err), "db_name");
  TRY(me_elector_new(client, db, NULL, NULL, &e, &err), "key");
  TRY(me_elector_new(client, db, "k", NULL, NULL, &err), "out");
  TRY(me_elector_new(client, db, "", NULL, &e, &err), "key");
  TRY(me_elector_new(client, db, "\xc0\xaf", NULL, &e, &err), "UTF-8");
  TRY(me_elector_new(client, "bad.db", "k", NULL, &e, &err), "database");
  me_elector_options_init(&o);
  o.ttl = 0;
  TRY(me_elector_new(client, db, "k", &o, &e, &err), "ttl");
  o.ttl = -3;
  TRY(me_elector_new(client, db, "k", &o, &e, &err), "ttl");
  o.ttl = NAN;
  TRY(me_elector_new(client, db, "k", &o, &e, &err), "ttl");
  o.ttl = INFINITY;
  TRY(me_elector_new(client, db, "k", &o, &e, &err), "ttl");
  o.ttl = 15;
  o.app_version = "v\xff";
  TRY(me_elector_new(client, db, "k", &o, &e, &err), "app_version");
#undef TRY
  e = NULL;
  EXPECT_ST(me_elector_new(client, db, "defaults", NULL, &e, &err), ME_OK);
  CHECK(me_elector_ttl(e) == 15.0, "opts NULL gives ttl 15 (got %g)", me_elector_ttl(e));
  me_elector_free(e);
}

static void null_handles(void) {
  section("NULL elector handles and out-pointers");
  bool b = true;
  me_node_status *ns = (me_node_status *)&b;
  me_cluster_detail *cd = (me_cluster_detail *)&b;
  CHECK(me_elector_running(NULL) == false, "me_elector_running(NULL) == false");
  CHECK(me_elector_is_leader(NULL) == false, "me_elector_is_leader(NULL) == false");
  CHECK(me_elector_poll_wait(NULL) == 0.0, "me_elector_poll_wait(NULL) == 0");
  CHECK(me_elector_ttl(NULL) == 0.0, "me_elector_ttl(NULL) == 0");
  CHECK(me_elector_key(NULL) == NULL, "me_elector_key(NULL) == NULL");
  CHECK(me_elector_locker(NULL) == NULL, "me_elector_locker(NULL) == NULL");
  EXPECT_ST(me_elector_start(NULL, false, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "elector") != NULL, "  names elector: \"%s\"", me_last_error_message());
  EXPECT_ST(me_elector_stop(NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_poll(NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_release(NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_close(NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_leader_exists(NULL, NULL, &b, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_node_status(NULL, NULL, &ns, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_cluster_detail(NULL, NULL, &cd, &err), ME_ERR_INVALID_ARGUMENT);
  me_elector *e = new_elector("nulls", 5, NULL, true);
  EXPECT_ST(me_elector_leader_exists(e, NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "out") != NULL, "  names out: \"%s\"", me_last_error_message());
  EXPECT_ST(me_elector_node_status(e, NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_cluster_detail(e, NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(ns == (me_node_status *)&b && cd == (me_cluster_detail *)&b, "record out-pointers untouched by failed calls");
  me_elector_free(e);
}

/* The member of `cd` with uuid `uuid`, or NULL. */
static const me_node_status *member(const me_cluster_detail *cd, const char *uuid) {
  for (size_t i = 0; cd && i < cd->member_count; i++)
    if (cd->members[i].lock.uuid && strcmp(cd->members[i].lock.uuid, uuid) == 0) return &cd->members[i];
  return NULL;
}

static void manual_polling(const char *key) {
  section("getters and the read-only locker view");
  me_elector *e1 = new_elector(key, 4, "v-test-1", true);
  CHECK(me_elector_ttl(e1) == 4.0, "me_elector_ttl == 4 (got %g)", me_elector_ttl(e1));
  CHECK(me_elector_key(e1) && strcmp(me_elector_key(e1), key) == 0, "me_elector_key == \"%s\"", key);
  const me_locker *ml = me_elector_locker(e1);
  CHECK(ml != NULL, "me_elector_locker is not NULL");
  CHECK(ml == me_elector_locker(e1), "me_elector_locker is stable");
  CHECK(ml && strcmp(me_locker_key(ml), key) == 0, "its key is the elector's key");
  CHECK(me_locker_ttl(ml) == 4.0, "its ttl is the elector's ttl (%g)", me_locker_ttl(ml));
  CHECK(me_locker_fence(ml) == 0, "its fence is 0 before leading");
  CHECK(me_locker_maxoffset(ml) > 0, "its maxoffset is derived from the ttl (%g)", me_locker_maxoffset(ml));
  CHECK(strcmp(me_locker_db_name(ml), db) == 0, "its db_name is the elector's database");
  me_locker_free((me_locker *)ml);
  CHECK(me_elector_locker(e1) == ml && strcmp(me_locker_key(ml), key) == 0,
        "me_locker_free on the read-only view is ignored (it still works)");
  bool b = true;
  EXPECT_ST(me_locker_locked(ml, NULL, &b, &err), ME_OK);
  CHECK(!b, "the read-only view reads the lock (free)");
  me_locker *mut = (me_locker *)ml; /* the mutating calls refuse it */
  EXPECT_ST(acquire(mut, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_locker_release(mut, false, NULL, NULL, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_locker_touch(mut, NULL, NULL, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_locker_close(mut, &err), ME_ERR_INVALID_STATE);
  CHECK(!me_elector_running(e1), "not running before start");
  CHECK(fabs(me_elector_poll_wait(e1) - 1.0) < 1e-9, "poll_wait is a quarter ttl when stopped (%g)",
        me_elector_poll_wait(e1));
  CHECK(!me_elector_is_leader(e1), "not leader before polling");
  b = true;
  EXPECT_ST(me_elector_leader_exists(e1, NULL, &b, &err), ME_OK);
  CHECK(!b, "no leader exists yet");

  section("manual polls: leadership, the node status record");
  EXPECT_ST(me_elector_poll(e1, &err), ME_OK);
  CHECK(me_elector_is_leader(e1), "e1 leads after one poll");
  EXPECT_ST(me_elector_leader_exists(e1, NULL, &b, &err), ME_OK);
  CHECK(b, "a leader exists");
  int64_t f1 = me_locker_fence(ml);
  CHECK(f1 > 0, "the elector's locker has a fence (%lld)", (long long)f1);
  EXPECT_ST(me_locker_owned(ml, NULL, &b, &err), ME_OK);
  CHECK(b, "the read-only view owns the lock");

  me_node_status *ns = NULL;
  EXPECT_ST(me_elector_node_status(e1, NULL, &ns, &err), ME_OK);
  CHECK(ns != NULL, "node_status writes a record");
  if (ns) {
    CHECK(strcmp(ns->lock.uuid, me_locker_uuid(ml)) == 0, "lock.uuid is the locker's uuid");
    CHECK(strcmp(ns->lock.key, key) == 0, "lock.key");
    CHECK(ns->lock.ttl == 4.0, "lock.ttl 4");
    CHECK(ns->is_leader, "is_leader true");
    CHECK(!ns->elector_running, "elector_running false");
    CHECK(ns->lock.lock_owned, "lock.lock_owned true");
    CHECK(ns->lock.fence == f1, "lock.fence == locker fence");
    CHECK(ns->has_last_poll && llabs((long long)(ns->last_poll_ms - wall_ms())) < 60000,
          "has_last_poll, last_poll_ms near now");
    CHECK(ns->app_version && strcmp(ns->app_version, "v-test-1") == 0, "app_version \"v-test-1\"");
    CHECK(ns->lock.pid == (int64_t)getpid() && strcmp(ns->lock.host, me_locker_host(ml)) == 0, "lock.pid and lock.host");
    int64_t exp = 0;
    me_locker_ts_expire(ml, &exp);
    CHECK(ns->lock.lock_expires_ms == exp, "lock.lock_expires_ms == me_locker_ts_expire (%lld vs %lld)",
          (long long)ns->lock.lock_expires_ms, (long long)exp);
  }
  me_node_status_free(ns);

  me_elector *e2 = new_elector(key, 4, NULL, true);
  EXPECT_ST(me_elector_poll(e2, &err), ME_OK);
  CHECK(!me_elector_is_leader(e2), "e2 does not lead while e1 does");
  EXPECT_ST(me_elector_leader_exists(e2, NULL, &b, &err), ME_OK);
  CHECK(b, "e2 sees that a leader exists");
  ns = NULL;
  EXPECT_ST(me_elector_node_status(e2, NULL, &ns, &err), ME_OK);
  CHECK(ns && !ns->is_leader && ns->app_version == NULL && !ns->lock.lock_owned && ns->lock.fence == 0,
        "e2's node_status: not leader, app_version NULL, lock_owned false, fence 0");
  me_node_status_free(ns);

  /* what the server holds, read through the other elector's view of the lock */
  me_current_lock *cur = NULL;
  EXPECT_ST(me_locker_current(me_elector_locker(e2), NULL, &cur, &err), ME_OK);
  int64_t exp1 = 0;
  me_locker_ts_expire(ml, &exp1);
  CHECK(cur && strcmp(cur->uuid, me_locker_uuid(ml)) == 0 && strcmp(cur->host, me_locker_host(ml)) == 0 &&
            cur->pid == me_locker_pid(ml) && cur->fence == f1 && cur->ts_expire_ms == exp1,
        "e2's view of the lock: e1's uuid, host, pid, fence and expiry");
  me_current_lock_free(cur);

  me_cluster_detail *cd = NULL;
  EXPECT_ST(me_elector_cluster_detail(e2, NULL, &cd, &err), ME_OK);
  CHECK(cd != NULL, "cluster_detail writes a record");
  if (cd) {
    CHECK(cd->has_leader, "has_leader");
    CHECK(cd->leader.uuid && strcmp(cd->leader.uuid, me_locker_uuid(ml)) == 0, "leader.uuid is e1's");
    CHECK(cd->leader.process_id == (int64_t)getpid(), "leader.process_id is our pid");
    CHECK(cd->leader.host && strcmp(cd->leader.host, me_locker_host(ml)) == 0, "leader.host");
    CHECK(cd->leader.fence == f1, "leader.fence == e1's fence");
    CHECK(cd->member_count == 2, "members lists both reporting members (got %zu)", cd->member_count);
    const me_node_status *m1 = member(cd, me_locker_uuid(ml));
    const me_node_status *m2 = member(cd, me_locker_uuid(me_elector_locker(e2)));
    CHECK(m1 && m1->is_leader && m2 && !m2->is_leader, "members have e1 (as leader) and e2");
    CHECK(m1 && m1->app_version && strcmp(m1->app_version, "v-test-1") == 0 && m1->lock.fence == f1,
          "e1's member record: app_version and fence");
    CHECK(llabs((long long)(cd->timestamp_ms - wall_ms())) < 60000, "timestamp_ms near now");
  }
  me_cluster_detail_free(cd);

  section("release hands leadership over");
  EXPECT_ST(me_elector_release(e1, &err), ME_OK);
  CHECK(!me_elector_is_leader(e1), "e1 is no longer leader after release");
  EXPECT_ST(me_elector_leader_exists(e2, NULL, &b, &err), ME_OK);
  CHECK(!b, "no leader right after the release");
  EXPECT_ST(me_elector_release(e1, &err), ME_OK);
  CHECK(1, "a second release is harmless");
  EXPECT_ST(me_elector_poll(e2, &err), ME_OK);
  CHECK(me_elector_is_leader(e2), "e2 leads after e1 released");
  int64_t f2 = me_locker_fence(me_elector_locker(e2));
  CHECK(f2 > f1, "e2's fence %lld > e1's %lld", (long long)f2, (long long)f1);
  cd = NULL;
  EXPECT_ST(me_elector_cluster_detail(e1, NULL, &cd, &err), ME_OK);
  CHECK(cd && cd->has_leader && strcmp(cd->leader.uuid, me_locker_uuid(me_elector_locker(e2))) == 0 &&
            cd->leader.fence == f2,
        "cluster_detail now names e2 as leader, with its fence");
  me_cluster_detail_free(cd);
  EXPECT_ST(me_elector_close(e2, &err), ME_OK); /* releases e2's leadership */
  EXPECT_ST(me_elector_leader_exists(e1, NULL, &b, &err), ME_OK);
  CHECK(!b, "me_elector_close released the leadership");
  EXPECT_ST(me_elector_poll(e2, &err), ME_ERR_CLOSED);
  EXPECT_ST(me_elector_leader_exists(e2, NULL, &b, &err), ME_ERR_CLOSED);
  CHECK(me_elector_ttl(e2) == 4.0 && strcmp(me_elector_key(e2), key) == 0, "getters keep working after close");
  EXPECT_ST(me_elector_close(e2, &err), ME_OK);
  CHECK(1, "a second close is ME_OK");
  me_elector_free(e2);
  cd = NULL;
  EXPECT_ST(me_elector_cluster_detail(e1, NULL, &cd, &err), ME_OK);
  CHECK(cd && !cd->has_leader && cd->leader.uuid == NULL && cd->leader.host == NULL,
        "cluster_detail has_leader false and leader strings NULL when nobody leads");
  me_cluster_detail_free(cd);

  section("me_elector_free of a leader without close does not release: leadership lapses by the ttl");
  EXPECT_ST(me_elector_close(e1, &err), ME_OK);
  me_elector_free(e1);
  e1 = new_elector(key, 4, NULL, true);
  EXPECT_ST(me_elector_poll(e1, &err), ME_OK);
  CHECK(me_elector_is_leader(e1), "a new e1 leads");
  int64_t exp_e1 = 0;
  me_locker_ts_expire(me_elector_locker(e1), &exp_e1);
  me_elector *watcher = new_elector(key, 4, NULL, false);
  me_elector_free(e1);
  EXPECT_ST(me_elector_leader_exists(watcher, NULL, &b, &err), ME_OK);
  CHECK(b, "right after me_elector_free a leader still exists (the freed one's lease)");
  int64_t t0 = mono_ns();
  while (b && elapsed_s(t0) < 15) {
    sleep_ms(100);
    me_elector_leader_exists(watcher, NULL, &b, NULL);
  }
  CHECK(!b && wall_ms() >= exp_e1 - 200, "the leadership ended by the lease's end (%lld ms after its expiry)",
        (long long)(wall_ms() - exp_e1));
  me_elector_free(watcher);

  section("report_status=false: not listed in members");
  me_elector *e3 = new_elector(key, 4, NULL, false);
  EXPECT_ST(me_elector_poll(e3, &err), ME_OK);
  cd = NULL;
  EXPECT_ST(me_elector_cluster_detail(e3, NULL, &cd, &err), ME_OK);
  CHECK(cd && member(cd, me_locker_uuid(me_elector_locker(e3))) == NULL, "e3 (report_status false) is not in members");
  CHECK(cd && cd->has_leader && strcmp(cd->leader.uuid, me_locker_uuid(me_elector_locker(e3))) == 0, "but it leads");
  me_cluster_detail_free(cd);
  EXPECT_ST(me_elector_close(e3, &err), ME_OK);
  me_elector_free(e3);
}

struct blocking_run {
  me_elector *e;
  me_status st;
  int done;
  me_cancel *cancel; /* NULL: me_elector_start(e, true); else me_elector_run(e, cancel) */
};

static void *run_blocking(void *arg) {
  struct blocking_run *r = arg;
  r->st = r->cancel ? me_elector_run(r->e, r->cancel, NULL) : me_elector_start(r->e, true, NULL);
  flag_set(&r->done);
  return NULL;
}

static void start_stop(const char *key) {
  section("start, start again, stop, stop again");
  me_elector *e = new_elector(key, 2, NULL, true);
  EXPECT_ST(me_elector_stop(e, &err), ME_OK);
  CHECK(1, "stop on a never-started elector is ME_OK");
  EXPECT_ST(me_elector_start(e, false, &err), ME_OK);
  CHECK(me_elector_running(e), "running after start");
  EXPECT_ST(me_elector_start(e, false, &err), ME_ERR_INVALID_STATE);
  CHECK(strlen(me_last_error_message()) > 0, "  with a message: \"%s\"", me_last_error_message());
  EXPECT_ST(me_elector_start(e, true, &err), ME_ERR_INVALID_STATE);
  bool b = false;
  int64_t t0 = mono_ns();
  while (!(b = me_elector_is_leader(e)) && elapsed_s(t0) < 15) sleep_ms(20);
  CHECK(b, "the running elector leads within 15 s (%.2f s)", elapsed_s(t0));
  double pw = me_elector_poll_wait(e);
  CHECK(pw >= 0 && pw <= 2.0, "poll_wait while running is within [0, ttl] (%g)", pw);
  me_node_status *ns = NULL;
  EXPECT_ST(me_elector_node_status(e, NULL, &ns, &err), ME_OK);
  CHECK(ns && ns->elector_running && ns->is_leader, "node_status says elector_running and is_leader");
  me_node_status_free(ns);
  EXPECT_ST(me_elector_stop(e, &err), ME_OK);
  CHECK(!me_elector_running(e), "not running after stop");
  CHECK(!me_elector_is_leader(e), "not leader after stop");
  EXPECT_ST(me_elector_leader_exists(e, NULL, &b, &err), ME_OK);
  CHECK(!b, "stop released the leadership");
  EXPECT_ST(me_elector_stop(e, &err), ME_OK);
  CHECK(!me_elector_running(e), "stop again: still stopped");
  EXPECT_ST(me_elector_start(e, false, &err), ME_OK);
  CHECK(me_elector_running(e), "an elector can be started again after stop");
  EXPECT_ST(me_elector_stop(e, &err), ME_OK);

  section("blocking start on another thread, stopped from this one");
  struct blocking_run r = {e, ME_ERR_INTERNAL, 0, NULL};
  pthread_t t;
  pthread_create(&t, NULL, run_blocking, &r);
  t0 = mono_ns();
  while (!me_elector_running(e) && elapsed_s(t0) < 10) sleep_ms(5);
  CHECK(me_elector_running(e), "running while the blocking start runs");
  sleep_ms(300);
  CHECK(!flag_get(&r.done), "the blocking start has not returned");
  EXPECT_ST(me_elector_start(e, false, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_elector_stop(e, &err), ME_OK);
  bool returned = wait_flag(&r.done, 15);
  CHECK(returned, "the blocking start returned after stop");
  if (!returned) exit(1);
  pthread_join(t, NULL);
  EXPECT_STATUS(r.st, ME_OK, "me_elector_start(e, true) on the other thread");

  section("me_elector_run ends on its token");
  EXPECT_ST(me_elector_run(NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  me_cancel *early = me_cancel_new();
  me_cancel_cancel(early);
  t0 = mono_ns();
  EXPECT_ST(me_elector_run(e, early, &err), ME_OK);
  CHECK(elapsed_s(t0) < 2 && !me_elector_running(e) && !me_elector_is_leader(e),
        "a token cancelled before the run ends it at once (%.2f s)", elapsed_s(t0));
  me_cancel_free(early);
  struct blocking_run rr = {e, ME_ERR_INTERNAL, 0, me_cancel_new()};
  pthread_create(&t, NULL, run_blocking, &rr);
  t0 = mono_ns();
  while (!(b = me_elector_is_leader(e)) && elapsed_s(t0) < 15) sleep_ms(20);
  CHECK(b, "the run leads (%.2f s)", elapsed_s(t0));
  me_cancel_cancel(rr.cancel);
  returned = wait_flag(&rr.done, 15);
  CHECK(returned, "the run returned after its token was cancelled");
  if (!returned) exit(1);
  pthread_join(t, NULL);
  EXPECT_STATUS(rr.st, ME_OK, "me_elector_run on the other thread");
  EXPECT_ST(me_elector_leader_exists(e, NULL, &b, &err), ME_OK);
  CHECK(!b, "the run released the leadership on its way out");
  me_cancel_free(rr.cancel);

  section("close while running; free while running");
  me_elector *e2 = new_elector(key, 2, NULL, true);
  EXPECT_ST(me_elector_start(e2, false, &err), ME_OK);
  t0 = mono_ns();
  while (!(b = me_elector_is_leader(e2)) && elapsed_s(t0) < 15) sleep_ms(20);
  CHECK(b, "e2 leads");
  EXPECT_ST(me_elector_close(e2, &err), ME_OK);
  CHECK(!me_elector_running(e2) && !me_elector_is_leader(e2), "close stopped it");
  EXPECT_ST(me_elector_leader_exists(e, NULL, &b, &err), ME_OK);
  CHECK(!b, "me_elector_close of a running leader released the leadership");
  EXPECT_ST(me_elector_start(e2, false, &err), ME_ERR_CLOSED);
  me_elector_free(e2);
  e2 = new_elector(key, 2, NULL, true);
  EXPECT_ST(me_elector_start(e2, false, &err), ME_OK);
  t0 = mono_ns();
  while (!(b = me_elector_is_leader(e2)) && elapsed_s(t0) < 15) sleep_ms(20);
  CHECK(b, "a new e2 leads");
  t0 = mono_ns();
  me_elector_free(e2); /* stops its thread, releases nothing */
  CHECK(elapsed_s(t0) < 2.0, "me_elector_free of a running elector returns promptly (%.2f s)", elapsed_s(t0));
  EXPECT_ST(me_elector_leader_exists(e, NULL, &b, &err), ME_OK);
  CHECK(b, "me_elector_free of a running leader did not release: its lease stands");
  EXPECT_ST(me_elector_close(e, &err), ME_OK);
  me_elector_free(e);
}

int main(void) {
  test_begin("test_elector");
  REQUIRE_OK(me_client_new(t_uri, &client, &err));
  warm_up(client);
  rand_name(db, sizeof db, "ctest_elector");
  char key[64];
  options_and_bad_args();
  null_handles();
  rand_name(key, sizeof key, "manual");
  manual_polling(key);
  rand_name(key, sizeof key, "startstop");
  start_stop(key);
  me_client_free(client);
  return test_end();
}
