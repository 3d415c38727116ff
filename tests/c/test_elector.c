/* The elector without callbacks: options, me_elector_new's argument checks, NULL handles,
 * getters, the borrowed locker, poll/release/is_leader/leader_exists, start/stop (twice),
 * blocking start, node_status and cluster_detail JSON, report_status, free while running. */
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
  CHECK(o.user_data == NULL, "user_data NULL");
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
  TRY(me_elector_new(NULL, db, "k", NULL, &e, NULL), "client");
  TRY(me_elector_new(client, NULL, "k", NULL, &e, NULL), "db_name");
  TRY(me_elector_new(client, db, NULL, NULL, &e, NULL), "key");
  TRY(me_elector_new(client, db, "k", NULL, NULL, NULL), "out");
  TRY(me_elector_new(client, db, "", NULL, &e, NULL), "key");
  TRY(me_elector_new(client, db, "\xc0\xaf", NULL, &e, NULL), "UTF-8");
  TRY(me_elector_new(client, "bad.db", "k", NULL, &e, NULL), "database");
  me_elector_options_init(&o);
  o.ttl = 0;
  TRY(me_elector_new(client, db, "k", &o, &e, NULL), "ttl");
  o.ttl = -3;
  TRY(me_elector_new(client, db, "k", &o, &e, NULL), "ttl");
  o.ttl = NAN;
  TRY(me_elector_new(client, db, "k", &o, &e, NULL), "ttl");
  o.ttl = INFINITY;
  TRY(me_elector_new(client, db, "k", &o, &e, NULL), "ttl");
  o.ttl = 15;
  o.app_version = "v\xff";
  TRY(me_elector_new(client, db, "k", &o, &e, NULL), "app_version");
#undef TRY
  e = NULL;
  EXPECT_ST(me_elector_new(client, db, "defaults", NULL, &e, &err), ME_OK);
  CHECK(me_elector_ttl(e) == 15.0, "opts NULL gives ttl 15 (got %g)", me_elector_ttl(e));
  me_elector_free(e);
}

static void null_handles(void) {
  section("NULL elector handles and out-pointers");
  bool b = true;
  char *js = (char *)&b;
  CHECK(me_elector_running(NULL) == false, "me_elector_running(NULL) == false");
  CHECK(me_elector_poll_wait(NULL) == 0.0, "me_elector_poll_wait(NULL) == 0");
  CHECK(me_elector_ttl(NULL) == 0.0, "me_elector_ttl(NULL) == 0");
  CHECK(me_elector_key(NULL) == NULL, "me_elector_key(NULL) == NULL");
  CHECK(me_elector_locker(NULL) == NULL, "me_elector_locker(NULL) == NULL");
  EXPECT_ST(me_elector_start(NULL, false, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "elector") != NULL, "  names elector: \"%s\"", me_last_error_message());
  EXPECT_ST(me_elector_stop(NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_poll(NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_release(NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_is_leader(NULL, &b), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_leader_exists(NULL, NULL, &b, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_node_status(NULL, NULL, &js, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_cluster_detail(NULL, NULL, &js, &err), ME_ERR_INVALID_ARGUMENT);
  me_elector *e = new_elector("nulls", 5, NULL, true);
  EXPECT_ST(me_elector_is_leader(e, NULL), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "out") != NULL, "  names out: \"%s\"", me_last_error_message());
  EXPECT_ST(me_elector_leader_exists(e, NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_node_status(e, NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "json_out") != NULL, "  names json_out: \"%s\"", me_last_error_message());
  EXPECT_ST(me_elector_cluster_detail(e, NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(js == (char *)&b, "json_out untouched by failed calls");
  me_elector_free(e);
}

static void manual_polling(const char *key) {
  section("getters and the borrowed locker");
  me_elector *e1 = new_elector(key, 4, "v-test-1", true);
  CHECK(me_elector_ttl(e1) == 4.0, "me_elector_ttl == 4 (got %g)", me_elector_ttl(e1));
  CHECK(me_elector_key(e1) && strcmp(me_elector_key(e1), key) == 0, "me_elector_key == \"%s\"", key);
  const me_locker *ml = me_elector_locker(e1);
  CHECK(ml != NULL, "me_elector_locker is not NULL");
  CHECK(ml == me_elector_locker(e1), "me_elector_locker is stable");
  CHECK(ml && strcmp(me_locker_key(ml), key) == 0, "its key is the elector's key");
  CHECK(me_locker_ttl(ml) == 4.0, "its ttl is the elector's ttl (%g)", me_locker_ttl(ml));
  CHECK(me_locker_fence(ml) == 0, "its fence is 0 before leading");
  me_locker_free((me_locker *)ml);
  CHECK(me_elector_locker(e1) == ml && strcmp(me_locker_key(ml), key) == 0,
        "me_locker_free on the borrowed locker is ignored (it still works)");
  bool b = true;
  EXPECT_ST(me_locker_locked((me_locker *)ml, NULL, &b, &err), ME_OK);
  CHECK(!b, "the borrowed locker reads the lock (free)");
  CHECK(!me_elector_running(e1), "not running before start");
  CHECK(fabs(me_elector_poll_wait(e1) - 1.0) < 1e-9, "poll_wait is a quarter ttl when stopped (%g)",
        me_elector_poll_wait(e1));
  EXPECT_ST(me_elector_is_leader(e1, &b), ME_OK);
  CHECK(!b, "not leader before polling");
  b = true;
  EXPECT_ST(me_elector_leader_exists(e1, NULL, &b, &err), ME_OK);
  CHECK(!b, "no leader exists yet");

  section("manual polls: leadership, JSON status");
  EXPECT_ST(me_elector_poll(e1, &err), ME_OK);
  EXPECT_ST(me_elector_is_leader(e1, &b), ME_OK);
  CHECK(b, "e1 leads after one poll");
  EXPECT_ST(me_elector_leader_exists(e1, NULL, &b, &err), ME_OK);
  CHECK(b, "a leader exists");
  int64_t f1 = me_locker_fence(ml);
  CHECK(f1 > 0, "the elector's locker has a fence (%lld)", (long long)f1);
  EXPECT_ST(me_locker_owned((me_locker *)ml, NULL, &b, &err), ME_OK);
  CHECK(b, "the borrowed locker owns the lock");

  char *js = NULL;
  EXPECT_ST(me_elector_node_status(e1, NULL, &js, &err), ME_OK);
  CHECK(json_is_object(js), "node_status is a JSON object: %s", js ? js : "(null)");
  static const char *const nkeys[] = {"uuid", "key", "ttl", "timestamp", "host", "pid", "lock_owned",
                                      "lock_created", "lock_expires", "fence", "_id", "is_leader",
                                      "elector_running", "last_poll", "app_version", NULL};
  check_keys("node_status", js, nkeys);
  CHECK(json_str_eq(json_get(js, "_id"), me_locker_uuid(ml)) && json_str_eq(json_get(js, "uuid"), me_locker_uuid(ml)),
        "_id and uuid are the locker's uuid");
  CHECK(json_str_eq(json_get(js, "key"), key), "key");
  CHECK(json_num_eq(json_get(js, "ttl"), 4.0), "ttl 4");
  CHECK(json_is_true(json_get(js, "is_leader")), "is_leader true");
  CHECK(json_is_false(json_get(js, "elector_running")), "elector_running false");
  CHECK(json_is_true(json_get(js, "lock_owned")), "lock_owned true");
  CHECK(json_num_eq(json_get(js, "fence"), (double)f1), "fence == locker fence");
  CHECK(json_time_near(json_get(js, "last_poll"), wall_ms(), 60000), "last_poll is an RFC 3339 time near now");
  CHECK(json_str_eq(json_get(js, "app_version"), "v-test-1"), "app_version \"v-test-1\"");
  CHECK(json_num_eq(json_get(js, "pid"), (double)getpid()), "pid");
  me_string_free(js);

  me_elector *e2 = new_elector(key, 4, NULL, true);
  EXPECT_ST(me_elector_poll(e2, &err), ME_OK);
  EXPECT_ST(me_elector_is_leader(e2, &b), ME_OK);
  CHECK(!b, "e2 does not lead while e1 does");
  EXPECT_ST(me_elector_leader_exists(e2, NULL, &b, &err), ME_OK);
  CHECK(b, "e2 sees that a leader exists");
  js = NULL;
  EXPECT_ST(me_elector_node_status(e2, NULL, &js, &err), ME_OK);
  CHECK(json_is_false(json_get(js, "is_leader")) && json_is_null(json_get(js, "app_version")) &&
            json_is_false(json_get(js, "lock_owned")) && json_is_null(json_get(js, "fence")),
        "e2's node_status: not leader, app_version null, lock_owned false, fence null: %s", js ? js : "(null)");
  me_string_free(js);

  js = NULL;
  EXPECT_ST(me_elector_cluster_detail(e2, NULL, &js, &err), ME_OK);
  CHECK(json_is_object(js), "cluster_detail is a JSON object: %.400s", js ? js : "(null)");
  static const char *const ckeys[] = {"member_detail", "leader", "timestamp", NULL};
  check_keys("cluster_detail", js, ckeys);
  const char *leader = json_get(js, "leader");
  CHECK(json_str_eq(json_get(leader, "uuid"), me_locker_uuid(ml)), "leader.uuid is e1's");
  CHECK(json_num_eq(json_get(leader, "process_id"), (double)getpid()), "leader.process_id is our pid");
  CHECK(json_str_eq(json_get(leader, "host"), me_locker_host(ml)), "leader.host");
  CHECK(json_num_eq(json_get(leader, "fence"), (double)f1), "leader.fence == e1's fence");
  const char *members = json_get(js, "member_detail");
  int n = json_count(members);
  CHECK(n == 2, "member_detail lists both reporting members (got %d)", n);
  int found1 = 0, found2 = 0;
  for (int i = 0; i < n; i++) {
    const char *m = json_at(members, i);
    if (json_str_eq(json_get(m, "_id"), me_locker_uuid(ml))) found1 = json_is_true(json_get(m, "is_leader")) ? 1 : -1;
    if (json_str_eq(json_get(m, "_id"), me_locker_uuid(me_elector_locker(e2)))) found2 = 1;
  }
  CHECK(found1 == 1 && found2 == 1, "member_detail has e1 (as leader) and e2 (%d, %d)", found1, found2);
  CHECK(json_time_near(json_get(js, "timestamp"), wall_ms(), 60000), "timestamp is an RFC 3339 time near now");
  me_string_free(js);

  section("release hands leadership over");
  EXPECT_ST(me_elector_release(e1, &err), ME_OK);
  EXPECT_ST(me_elector_is_leader(e1, &b), ME_OK);
  CHECK(!b, "e1 is no longer leader after release");
  EXPECT_ST(me_elector_leader_exists(e2, NULL, &b, &err), ME_OK);
  CHECK(!b, "no leader right after the release");
  EXPECT_ST(me_elector_release(e1, &err), ME_OK);
  CHECK(1, "a second release is harmless");
  EXPECT_ST(me_elector_poll(e2, &err), ME_OK);
  EXPECT_ST(me_elector_is_leader(e2, &b), ME_OK);
  CHECK(b, "e2 leads after e1 released");
  int64_t f2 = me_locker_fence(me_elector_locker(e2));
  CHECK(f2 > f1, "e2's fence %lld > e1's %lld", (long long)f2, (long long)f1);
  js = NULL;
  EXPECT_ST(me_elector_cluster_detail(e1, NULL, &js, &err), ME_OK);
  CHECK(json_str_eq(json_get(json_get(js, "leader"), "uuid"), me_locker_uuid(me_elector_locker(e2))),
        "cluster_detail now names e2 as leader");
  me_string_free(js);
  me_elector_free(e2); /* releases e2's leadership */
  EXPECT_ST(me_elector_leader_exists(e1, NULL, &b, &err), ME_OK);
  CHECK(!b, "me_elector_free released the leadership");
  js = NULL;
  EXPECT_ST(me_elector_cluster_detail(e1, NULL, &js, &err), ME_OK);
  CHECK(json_is_null(json_get(js, "leader")), "cluster_detail leader is null when nobody leads: %.300s",
        js ? js : "(null)");
  me_string_free(js);
  me_elector_free(e1);

  section("report_status=false: not listed in member_detail");
  me_elector *e3 = new_elector(key, 4, NULL, false);
  EXPECT_ST(me_elector_poll(e3, &err), ME_OK);
  js = NULL;
  EXPECT_ST(me_elector_cluster_detail(e3, NULL, &js, &err), ME_OK);
  CHECK(json_is_object(js), "cluster_detail is a JSON object");
  const char *md = json_get(js, "member_detail");
  bool listed = false;
  for (int i = 0; i < json_count(md); i++)
    if (json_str_eq(json_get(json_at(md, i), "_id"), me_locker_uuid(me_elector_locker(e3)))) listed = true;
  CHECK(!listed, "e3 (report_status false) is not in member_detail");
  CHECK(json_str_eq(json_get(json_get(js, "leader"), "uuid"), me_locker_uuid(me_elector_locker(e3))),
        "but it leads");
  me_string_free(js);
  me_elector_free(e3);
}

struct blocking_run {
  me_elector *e;
  me_status st;
  int done;
};

static void *run_blocking(void *arg) {
  struct blocking_run *r = arg;
  r->st = me_elector_start(r->e, true, NULL);
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
  while (!b && elapsed_s(t0) < 15) {
    me_elector_is_leader(e, &b);
    sleep_ms(20);
  }
  CHECK(b, "the running elector leads within 15 s (%.2f s)", elapsed_s(t0));
  double pw = me_elector_poll_wait(e);
  CHECK(pw >= 0 && pw <= 2.0, "poll_wait while running is within [0, ttl] (%g)", pw);
  char *js = NULL;
  EXPECT_ST(me_elector_node_status(e, NULL, &js, &err), ME_OK);
  CHECK(json_is_true(json_get(js, "elector_running")), "node_status says elector_running true");
  me_string_free(js);
  EXPECT_ST(me_elector_stop(e, &err), ME_OK);
  CHECK(!me_elector_running(e), "not running after stop");
  EXPECT_ST(me_elector_is_leader(e, &b), ME_OK);
  CHECK(!b, "not leader after stop");
  EXPECT_ST(me_elector_leader_exists(e, NULL, &b, &err), ME_OK);
  CHECK(!b, "stop released the leadership");
  EXPECT_ST(me_elector_stop(e, &err), ME_OK);
  CHECK(!me_elector_running(e), "stop again: still stopped");
  EXPECT_ST(me_elector_start(e, false, &err), ME_OK);
  CHECK(me_elector_running(e), "an elector can be started again after stop");
  EXPECT_ST(me_elector_stop(e, &err), ME_OK);

  section("blocking start on another thread, stopped from this one");
  struct blocking_run r = {e, ME_ERR_INTERNAL, 0};
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

  section("free while running");
  me_elector *e2 = new_elector(key, 2, NULL, true);
  EXPECT_ST(me_elector_start(e2, false, &err), ME_OK);
  t0 = mono_ns();
  b = false;
  while (!b && elapsed_s(t0) < 15) {
    me_elector_is_leader(e2, &b);
    sleep_ms(20);
  }
  CHECK(b, "e2 leads");
  me_elector_free(e2);
  EXPECT_ST(me_elector_leader_exists(e, NULL, &b, &err), ME_OK);
  CHECK(!b, "me_elector_free of a running leader released the leadership");
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
