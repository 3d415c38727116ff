/* The locker: options, me_locker_new's argument checks, me_locker_acquire (blocking,
 * non-blocking, timeout, force, bad timeouts/steps), release/force (and *released), touch,
 * locked/owned, the me_current_lock and me_lock_status records (checked against another
 * locker's view of the server), the getters (incl. NULL handles), fences, expiry, close
 * (releases) apart from free (never releases). */
#define _POSIX_C_SOURCE 200809L

#include "testlib.h"

static me_client *client;
static char db[64];

static me_locker *new_locker(const char *key, double ttl) { return locker_with_ttl(client, db, key, ttl); }

/* Closes (which releases the lock if held) and frees a locker. */
static void close_free(me_locker *l) {
  me_error *err = NULL;
  me_status st = me_locker_close(l, &err);
  if (st != ME_OK) CHECK(false, "me_locker_close -> %s: %s", me_status_name((int)st), me_error_message(err));
  me_error_free(err);
  me_locker_free(l);
}

static void options_defaults(void) {
  section("me_locker_options_init defaults");
  me_locker_options o;
  memset(&o, 0xAB, sizeof o);
  me_locker_options_init(&o);
  CHECK(o.dbcollection != NULL && strcmp(o.dbcollection, "mongolocker") == 0,
        "dbcollection == \"mongolocker\" (got \"%s\")", o.dbcollection ? o.dbcollection : "(null)");
  CHECK(o.ttl == 600.0, "ttl == 600 (got %g)", o.ttl);
  CHECK(o.timeparanoid == true, "timeparanoid == true");
  CHECK(o.maxoffset == 0.5, "maxoffset == 0.5 (got %g)", o.maxoffset);

  section("me_acquire_options_init defaults");
  me_acquire_options a;
  memset(&a, 0xAB, sizeof a);
  me_acquire_options_init(&a);
  CHECK(a.blocking == true && a.has_timeout == false && a.step == 0.25 && a.force == false && a.cancel == NULL,
        "blocking, no timeout, step 0.25, no force, no token (step %g)", a.step);
}

static void new_bad_args(void) {
  section("me_locker_new argument checks");
  me_locker *sentinel = (me_locker *)&client, *l = sentinel;
  me_locker_options o;
  me_locker_options_init(&o);
  struct {
    me_status st;
    const char *name;
    const char *needle;
  } r[32];
  int n = 0;
#define TRY(call, needle_)                          \
  do {                                              \
    me_error *err = NULL;                           \
    l = sentinel;                                   \
    r[n].st = (call);                               \
    r[n].name = #call;                              \
    r[n].needle = needle_;                          \
    t_expect_st(r[n].st, ME_ERR_INVALID_ARGUMENT, err, true, #call, __FILE__, __LINE__); \
    me_error_free(err);                             \
    CHECK(needle_ == NULL || strstr(me_last_error_message(), needle_ ? needle_ : "") != NULL, \
          "  message mentions \"%s\": \"%s\"", needle_ ? needle_ : "", me_last_error_message()); \
    CHECK(l == sentinel, "  *out unchanged");       \
    if (l != sentinel && r[n].st == ME_OK) close_free(l); \
    n++;                                            \
  } while (0)
  TRY(me_locker_new(NULL, db, "k", NULL, &l, &err), "client");
  TRY(me_locker_new(client, NULL, "k", NULL, &l, &err), "db_name");
  TRY(me_locker_new(client, db, NULL, NULL, &l, &err), "key");
  TRY(me_locker_new(client, db, "k", NULL, NULL, &err), "out");
  TRY(me_locker_new(client, db, "", NULL, &l, &err), "key");
  TRY(me_locker_new(client, db, "bad\xc3\x28utf8", NULL, &l, &err), "UTF-8");
  TRY(me_locker_new(client, "db\xff", "k", NULL, &l, &err), "UTF-8");
  TRY(me_locker_new(client, "", "k", NULL, &l, &err), "database");
  TRY(me_locker_new(client, "a.b", "k", NULL, &l, &err), "database");
  TRY(me_locker_new(client, "a b", "k", NULL, &l, &err), "database");
  TRY(me_locker_new(client, "0123456789012345678901234567890123456789012345678901234567890123", "k", NULL, &l, &err),
      "database");
  o.ttl = 0;
  TRY(me_locker_new(client, db, "k", &o, &l, &err), "ttl");
  o.ttl = -1;
  TRY(me_locker_new(client, db, "k", &o, &l, &err), "ttl");
  o.ttl = NAN;
  TRY(me_locker_new(client, db, "k", &o, &l, &err), "ttl");
  o.ttl = INFINITY;
  TRY(me_locker_new(client, db, "k", &o, &l, &err), "ttl");
  o.ttl = -INFINITY;
  TRY(me_locker_new(client, db, "k", &o, &l, &err), "ttl");
  o.ttl = 600;
  o.dbcollection = NULL;
  TRY(me_locker_new(client, db, "k", &o, &l, &err), "dbcollection");
  o.dbcollection = "";
  TRY(me_locker_new(client, db, "k", &o, &l, &err), "collection");
  o.dbcollection = "bad\xff";
  TRY(me_locker_new(client, db, "k", &o, &l, &err), "UTF-8");
  o.dbcollection = "mongolocker";
  o.maxoffset = NAN;
  TRY(me_locker_new(client, db, "k", &o, &l, &err), "maxoffset");
  o.maxoffset = -1;
  TRY(me_locker_new(client, db, "k", &o, &l, &err), "maxoffset");
#undef TRY

  me_locker *d = NULL;
  EXPECT_ST(me_locker_new(client, db, "k", NULL, &d, &err), ME_OK);
  CHECK(d != NULL && me_locker_ttl(d) == 600.0, "opts NULL gives the defaults (ttl %g)", me_locker_ttl(d));
  close_free(d);
  me_locker_options_init(&o);
  o.ttl = 0.25;
  EXPECT_ST(me_locker_new(client, db, "k", &o, &d, &err), ME_OK);
  CHECK(me_locker_ttl(d) == 0.25, "a fractional ttl is kept (%g)", me_locker_ttl(d));
  close_free(d);
}

static void null_handles(void) {
  section("NULL handles and out-pointers");
  int64_t ms = 12345;
  bool b = true;
  me_current_lock *cur = (me_current_lock *)&b;
  me_lock_status *ls = (me_lock_status *)&b;
  CHECK(me_locker_key(NULL) == NULL, "me_locker_key(NULL) == NULL");
  CHECK(me_locker_uuid(NULL) == NULL, "me_locker_uuid(NULL) == NULL");
  CHECK(me_locker_host(NULL) == NULL, "me_locker_host(NULL) == NULL");
  CHECK(me_locker_dbcollection(NULL) == NULL, "me_locker_dbcollection(NULL) == NULL");
  CHECK(me_locker_db_name(NULL) == NULL, "me_locker_db_name(NULL) == NULL");
  CHECK(me_locker_pid(NULL) == 0, "me_locker_pid(NULL) == 0");
  CHECK(me_locker_fence(NULL) == 0, "me_locker_fence(NULL) == 0");
  CHECK(me_locker_ttl(NULL) == 0.0, "me_locker_ttl(NULL) == 0");
  CHECK(me_locker_maxoffset(NULL) == 0.0, "me_locker_maxoffset(NULL) == 0");
  CHECK(me_locker_timeparanoid(NULL) == false, "me_locker_timeparanoid(NULL) == false");
  CHECK(me_locker_ts_expire(NULL, &ms) == false && ms == 12345, "me_locker_ts_expire(NULL, &ms) == false, ms untouched");
  EXPECT_ST(acquire(NULL, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "locker") != NULL, "  names locker: \"%s\"", me_last_error_message());
  EXPECT_ST(me_locker_acquire(NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_locker_release(NULL, false, NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_locker_touch(NULL, NULL, &ms, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_locker_locked(NULL, NULL, &b, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_locker_owned(NULL, NULL, &b, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_locker_current(NULL, NULL, &cur, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_locker_status(NULL, NULL, &ls, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_locker_close(NULL, &err), ME_ERR_INVALID_ARGUMENT);
  me_locker *l = new_locker("nullouts", 30);
  EXPECT_ST(me_locker_locked(l, NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "out") != NULL, "  names out: \"%s\"", me_last_error_message());
  EXPECT_ST(me_locker_owned(l, NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_locker_current(l, NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "out") != NULL, "  names out: \"%s\"", me_last_error_message());
  EXPECT_ST(me_locker_status(l, NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(me_locker_ts_expire(l, NULL) == false, "me_locker_ts_expire(l, NULL) == false");
  CHECK(cur == (me_current_lock *)&b && ls == (me_lock_status *)&b, "record out-pointers untouched by failed calls");
  /* release and touch accept NULL out-pointers */
  EXPECT_ST(me_locker_release(l, false, NULL, NULL, &err), ME_OK);
  EXPECT_ST(me_locker_close(l, &err), ME_OK);
  close_free(l);
}

static void options_getters(void) {
  section("getters of the options (derived values through getters)");
  me_locker_options o;
  me_locker_options_init(&o);
  me_locker *d = NULL;
  REQUIRE_OK(me_locker_new(client, db, "getters", NULL, &d, &err));
  CHECK(strcmp(me_locker_dbcollection(d), o.dbcollection) == 0, "defaults: dbcollection \"%s\"", me_locker_dbcollection(d));
  CHECK(strcmp(me_locker_db_name(d), db) == 0, "db_name \"%s\"", me_locker_db_name(d));
  CHECK(me_locker_maxoffset(d) == o.maxoffset, "maxoffset %g", me_locker_maxoffset(d));
  CHECK(me_locker_timeparanoid(d) == o.timeparanoid, "timeparanoid %d", (int)me_locker_timeparanoid(d));
  close_free(d);
  o.dbcollection = "other_col";
  o.maxoffset = 1.25;
  o.timeparanoid = false;
  o.ttl = 7;
  REQUIRE_OK(me_locker_new(client, db, "getters", &o, &d, &err));
  CHECK(strcmp(me_locker_dbcollection(d), "other_col") == 0 && me_locker_maxoffset(d) == 1.25 &&
            !me_locker_timeparanoid(d) && me_locker_ttl(d) == 7.0,
        "set options read back: \"%s\" %g %d %g", me_locker_dbcollection(d), me_locker_maxoffset(d),
        (int)me_locker_timeparanoid(d), me_locker_ttl(d));
  close_free(d);
}

static void getters_and_fresh_state(const char *key) {
  section("getters and a fresh locker's state");
  me_locker *l = new_locker(key, 30);
  const char *k = me_locker_key(l), *u = me_locker_uuid(l), *h = me_locker_host(l);
  CHECK(k && strcmp(k, key) == 0, "me_locker_key == \"%s\" (got \"%s\")", key, k ? k : "(null)");
  CHECK(u && strlen(u) >= 8, "me_locker_uuid is an id: \"%s\"", u ? u : "(null)");
  CHECK(h && *h, "me_locker_host is non-empty: \"%s\"", h ? h : "(null)");
  CHECK(me_locker_pid(l) == (int64_t)getpid(), "me_locker_pid == getpid() (%lld vs %ld)",
        (long long)me_locker_pid(l), (long)getpid());
  CHECK(me_locker_ttl(l) == 30.0, "me_locker_ttl == 30 (got %g)", me_locker_ttl(l));
  CHECK(me_locker_key(l) == k, "me_locker_key is stable (same pointer)");
  me_locker *l2 = new_locker(key, 30);
  CHECK(strcmp(me_locker_uuid(l2), u) != 0, "two lockers have different uuids (%s, %s)", u, me_locker_uuid(l2));
  close_free(l2);
  int64_t ms = 777;
  CHECK(!me_locker_ts_expire(l, &ms) && ms == 777, "me_locker_ts_expire is false before any acquire, out untouched");
  CHECK(me_locker_fence(l) == 0, "me_locker_fence == 0 before any acquire (got %lld)", (long long)me_locker_fence(l));
  bool b = true;
  EXPECT_ST(me_locker_locked(l, NULL, &b, &err), ME_OK);
  CHECK(!b, "me_locker_locked is false on a fresh key");
  b = true;
  EXPECT_ST(me_locker_owned(l, NULL, &b, &err), ME_OK);
  CHECK(!b, "me_locker_owned is false on a fresh key");
  me_current_lock *cur = (me_current_lock *)&b;
  EXPECT_ST(me_locker_current(l, NULL, &cur, &err), ME_OK);
  CHECK(cur == NULL, "me_locker_current writes NULL when nobody holds the lock");
  me_current_lock_free(cur);
  EXPECT_ST(me_locker_touch(l, NULL, NULL, &err), ME_ERR_NOT_OWNED);
  CHECK(strlen(me_last_error_message()) > 0, "  with a message: \"%s\"", me_last_error_message());
  bool released = true;
  EXPECT_ST(me_locker_release(l, false, NULL, &released, &err), ME_OK);
  CHECK(!released, "releasing a lock never held: *released false");
  CHECK(strcmp(me_last_error_message(), "") == 0, "me_last_error_message cleared by a successful call");
  me_lock_status *ls = NULL;
  int64_t now = wall_ms();
  EXPECT_ST(me_locker_status(l, NULL, &ls, &err), ME_OK);
  CHECK(ls != NULL, "me_locker_status writes a record");
  if (ls) {
    CHECK(ls->uuid && strcmp(ls->uuid, u) == 0 && ls->key && strcmp(ls->key, key) == 0, "uuid and key (%s, %s)",
          ls->uuid ? ls->uuid : "(null)", ls->key ? ls->key : "(null)");
    CHECK(ls->host && strcmp(ls->host, h) == 0 && ls->pid == (int64_t)getpid(), "host and pid are the locker's");
    CHECK(ls->ttl == 30.0, "ttl 30 (%g)", ls->ttl);
    CHECK(!ls->lock_owned, "lock_owned false");
    CHECK(ls->lock_created_ms == 0 && ls->lock_expires_ms == 0 && ls->fence == 0,
          "lock_created_ms, lock_expires_ms, fence are 0 when not owned (%lld %lld %lld)",
          (long long)ls->lock_created_ms, (long long)ls->lock_expires_ms, (long long)ls->fence);
    CHECK(llabs((long long)(ls->timestamp_ms - now)) < 60000, "timestamp_ms is near now (%lld ms off)",
          (long long)(ls->timestamp_ms - now));
  }
  me_lock_status_free(ls);
  EXPECT_ST(me_locker_close(l, &err), ME_OK);
  close_free(l);
}

static void acquire_release_records(const char *key) {
  section("acquire, the records of a held lock, contention, touch, release");
  me_locker *a = new_locker(key, 30), *b = new_locker(key, 30);
  int64_t before = wall_ms();
  EXPECT_ST(acquire(a, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  bool v = false;
  EXPECT_ST(me_locker_owned(a, NULL, &v, &err), ME_OK);
  CHECK(v, "a owns the lock");
  v = false;
  EXPECT_ST(me_locker_locked(b, NULL, &v, &err), ME_OK);
  CHECK(v, "b sees it locked");
  EXPECT_ST(me_locker_owned(b, NULL, &v, &err), ME_OK);
  CHECK(!v, "b does not own it");
  int64_t fa = me_locker_fence(a), exp_a = 0;
  CHECK(fa > 0, "a's fence > 0 after acquiring (%lld)", (long long)fa);
  CHECK(me_locker_ts_expire(a, &exp_a), "me_locker_ts_expire true after acquiring");
  CHECK(llabs((long long)(exp_a - (before + 30000))) < 60000, "ts_expire ~ now + ttl (%lld ms from it)",
        (long long)(exp_a - (before + 30000)));

  /* the record, read through the other locker (what the server holds) */
  me_current_lock *cur = NULL;
  EXPECT_ST(me_locker_current(b, NULL, &cur, &err), ME_OK);
  CHECK(cur != NULL, "me_locker_current (through b) writes a record while a holds the lock");
  if (cur) {
    CHECK(cur->key && strcmp(cur->key, key) == 0, "key is the key (%s)", cur->key ? cur->key : "(null)");
    CHECK(cur->locked, "locked true");
    CHECK(cur->uuid && strcmp(cur->uuid, me_locker_uuid(a)) == 0, "uuid is a's (%s)", me_locker_uuid(a));
    CHECK(cur->host && strcmp(cur->host, me_locker_host(a)) == 0, "host is a's (%s)", cur->host ? cur->host : "(null)");
    CHECK(cur->pid == (int64_t)getpid() && cur->pid == me_locker_pid(a), "pid is ours (%lld)", (long long)cur->pid);
    CHECK(cur->fence == fa, "fence equals me_locker_fence(a) %lld (%lld)", (long long)fa, (long long)cur->fence);
    CHECK(cur->ts_expire_ms == exp_a, "ts_expire_ms equals me_locker_ts_expire (%lld vs %lld)",
          (long long)cur->ts_expire_ms, (long long)exp_a);
    CHECK(cur->ts_created_ms <= cur->ts_expire_ms && llabs((long long)(cur->ts_expire_ms - cur->ts_created_ms - 30000)) <= 1000,
          "ts_created_ms is a ttl before ts_expire_ms (%lld ms)", (long long)(cur->ts_expire_ms - cur->ts_created_ms));
  }
  me_current_lock *cur_a = NULL;
  EXPECT_ST(me_locker_current(a, NULL, &cur_a, &err), ME_OK);
  CHECK(cur && cur_a && cur_a->fence == cur->fence && cur_a->ts_expire_ms == cur->ts_expire_ms &&
            strcmp(cur_a->uuid, cur->uuid) == 0 && strcmp(cur_a->host, cur->host) == 0 && cur_a->pid == cur->pid,
        "a's own me_locker_current reads the same holding");
  me_current_lock_free(cur_a);

  me_lock_status *ls = NULL;
  EXPECT_ST(me_locker_status(a, NULL, &ls, &err), ME_OK);
  CHECK(ls != NULL, "a's me_locker_status writes a record");
  if (ls) {
    CHECK(strcmp(ls->uuid, me_locker_uuid(a)) == 0 && strcmp(ls->key, key) == 0, "uuid and key are a's");
    CHECK(ls->ttl == 30.0, "ttl is 30 (seconds)");
    CHECK(ls->pid == (int64_t)getpid() && strcmp(ls->host, me_locker_host(a)) == 0, "pid and host");
    CHECK(ls->lock_owned, "lock_owned true");
    CHECK(ls->lock_expires_ms == exp_a, "lock_expires_ms == ts_expire (%lld vs %lld)", (long long)ls->lock_expires_ms,
          (long long)exp_a);
    CHECK(cur && ls->lock_created_ms == cur->ts_created_ms, "lock_created_ms == the server's ts_created (%lld)",
          (long long)ls->lock_created_ms);
    CHECK(ls->fence == fa, "fence == a's fence");
  }
  me_lock_status_free(ls);
  me_current_lock_free(cur);
  ls = NULL;
  EXPECT_ST(me_locker_status(b, NULL, &ls, &err), ME_OK);
  CHECK(ls && !ls->lock_owned && ls->fence == 0 && ls->lock_expires_ms == 0 && ls->lock_created_ms == 0,
        "b's status: lock_owned false, fence and times 0");
  CHECK(ls && strcmp(ls->uuid, me_locker_uuid(b)) == 0, "b's status has b's uuid");
  me_lock_status_free(ls);

  section("contention: non-blocking, timeouts, bad timeout/step values");
  EXPECT_ST(acquire(b, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_LOCK_EXISTS);
  CHECK(strstr(me_last_error_message(), key) != NULL, "  the message names the key: \"%s\"", me_last_error_message());
  CHECK(me_locker_fence(b) == 0, "b's fence stays 0 after failing");
  int64_t t0 = mono_ns();
  EXPECT_ST(acquire(b, true, 0.6, 0.1, false, &err), ME_ERR_ACQUIRE_TIMEOUT);
  double took = elapsed_s(t0);
  CHECK(took >= 0.55 && took < 20.0, "  it waited about the timeout: %.2f s (0.6 s)", took);
  t0 = mono_ns();
  EXPECT_ST(acquire(b, true, 0.0, 0.1, false, &err), ME_ERR_ACQUIRE_TIMEOUT);
  CHECK(elapsed_s(t0) < 20.0, "  timeout 0 returns promptly (%.2f s)", elapsed_s(t0));
  EXPECT_ST(acquire(b, true, 0.3, 0.0, false, &err), ME_ERR_ACQUIRE_TIMEOUT);
  static const double bad_timeouts[] = {-0.5, -2.0, -1.0000001, -INFINITY, INFINITY};
  for (size_t i = 0; i < sizeof bad_timeouts / sizeof bad_timeouts[0]; i++) {
    char call[96];
    snprintf(call, sizeof call, "me_acquire(b, blocking, timeout=%g)", bad_timeouts[i]);
    EXPECT_STATUS(acquire(b, true, bad_timeouts[i], 0.25, false, NULL), ME_ERR_INVALID_ARGUMENT, call);
  }
  EXPECT_ST(acquire(b, true, NAN, 0.25, false, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "timeout") != NULL, "  names timeout: \"%s\"", me_last_error_message());
  /* a timeout that does not apply (has_timeout false) is not checked */
  me_acquire_options o = acq_opts(false, NO_TIMEOUT, 0.25, false, NULL);
  o.timeout = NAN;
  EXPECT_ST(me_locker_acquire(b, &o, &err), ME_ERR_LOCK_EXISTS);
  EXPECT_ST(acquire(b, false, 0.0, 0.25, false, &err), ME_ERR_LOCK_EXISTS);
  EXPECT_ST(acquire(b, false, -5.0, 0.25, false, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(acquire(b, false, NAN, 0.25, false, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(acquire(b, true, 1.0, -0.25, false, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "step") != NULL, "  names step: \"%s\"", me_last_error_message());
  EXPECT_ST(acquire(b, true, 1.0, NAN, false, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(acquire(b, true, 1.0, INFINITY, false, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(acquire(b, false, -0.5, 0.25, false, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(acquire(b, false, NAN, 0.25, false, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(acquire(b, false, INFINITY, 0.25, false, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "timeout") != NULL, "  names timeout: \"%s\"", me_last_error_message());
  t0 = mono_ns();
  EXPECT_ST(acquire(b, false, 5.0, 0.25, false, &err), ME_ERR_LOCK_EXISTS);
  CHECK(elapsed_s(t0) < 5.0, "  blocking=false with a timeout makes one attempt, no waiting (%.2f s)", elapsed_s(t0));
  EXPECT_ST(acquire(b, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_LOCK_EXISTS);
  /* the invalid calls changed nothing */
  EXPECT_ST(me_locker_owned(a, NULL, &v, &err), ME_OK);
  CHECK(v, "a still owns the lock after b's failed attempts");

  section("re-acquire renews, touch");
  int64_t exp0 = exp_a;
  sleep_ms(20);
  EXPECT_ST(acquire(a, true, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  CHECK(me_locker_fence(a) == fa, "acquiring a held lock keeps the fence (%lld)", (long long)me_locker_fence(a));
  int64_t nexp = 0;
  EXPECT_ST(me_locker_touch(a, NULL, NULL, &err), ME_OK);
  sleep_ms(20);
  EXPECT_ST(me_locker_touch(a, NULL, &nexp, &err), ME_OK);
  int64_t exp_now = 0;
  me_locker_ts_expire(a, &exp_now);
  CHECK(nexp > exp0 && nexp == exp_now, "touch moved the expiry forward (%lld -> %lld) and ts_expire follows (%lld)",
        (long long)exp0, (long long)nexp, (long long)exp_now);
  CHECK(me_locker_fence(a) == fa, "touch keeps the fence");
  nexp = -1;
  EXPECT_ST(me_locker_touch(b, NULL, &nexp, &err), ME_ERR_NOT_OWNED);
  CHECK(nexp == -1, "  NOT_OWNED leaves *new_expire_ms untouched");
  CHECK(strstr(me_last_error_message(), key) != NULL, "  names the key: \"%s\"", me_last_error_message());

  section("force acquire and force release");
  EXPECT_ST(acquire(b, false, NO_TIMEOUT, 0.25, true, &err), ME_OK);
  int64_t fb = me_locker_fence(b);
  CHECK(fb > fa, "b's forced fence %lld > a's %lld", (long long)fb, (long long)fa);
  EXPECT_ST(me_locker_owned(a, NULL, &v, &err), ME_OK);
  CHECK(!v, "a no longer owns it");
  EXPECT_ST(me_locker_touch(a, NULL, NULL, &err), ME_ERR_NOT_OWNED);
  EXPECT_ST(me_locker_release(a, false, NULL, NULL, &err), ME_OK);
  EXPECT_ST(me_locker_owned(b, NULL, &v, &err), ME_OK);
  CHECK(v, "a's non-forced release did not free b's lock");
  EXPECT_ST(me_locker_release(a, true, NULL, NULL, &err), ME_OK);
  EXPECT_ST(me_locker_locked(b, NULL, &v, &err), ME_OK);
  CHECK(!v, "a's forced release freed b's lock");
  EXPECT_ST(me_locker_owned(b, NULL, &v, &err), ME_OK);
  CHECK(!v, "b no longer owns it");
  EXPECT_ST(me_locker_touch(b, NULL, NULL, &err), ME_ERR_NOT_OWNED);
  cur = (me_current_lock *)&v;
  EXPECT_ST(me_locker_current(a, NULL, &cur, &err), ME_OK);
  CHECK(cur == NULL, "me_locker_current writes NULL after the force release");
  bool released = true;
  EXPECT_ST(me_locker_release(b, false, NULL, &released, &err), ME_OK);
  CHECK(!released, "  *released false: nothing was held");
  EXPECT_ST(me_locker_release(b, true, NULL, &released, &err), ME_OK);
  CHECK(!released, "  *released false for a forced release of a free lock too");
  EXPECT_ST(acquire(a, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  EXPECT_ST(me_locker_release(a, false, NULL, &released, &err), ME_OK);
  CHECK(released, "*released true when a holding was released");
  EXPECT_ST(acquire(b, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  EXPECT_ST(me_locker_release(a, true, NULL, &released, &err), ME_OK);
  CHECK(released, "*released true for a forced release of another's holding");
  CHECK(1, "releasing a free lock (force or not) is ME_OK");

  section("fences strictly increase across holders");
  int64_t last = fb;
  bool increasing = true;
  for (int i = 0; i < 6; i++) {
    me_locker *x = (i % 2) ? a : b;
    me_status st = acquire(x, true, 10.0, 0.05, false, NULL);
    int64_t f = me_locker_fence(x);
    if (st != ME_OK || f <= last) {
      increasing = false;
      printf("        round %d: %s fence %lld after %lld (%s)\n", i, me_status_name((int)st), (long long)f,
             (long long)last, me_last_error_message());
    }
    last = f;
    me_locker_release(x, false, NULL, NULL, NULL);
  }
  CHECK(increasing, "6 alternating acquisitions gave strictly increasing fences (last %lld)", (long long)last);
  close_free(a);
  close_free(b);
}

struct releaser {
  me_locker *l;
  long after_ms;
  me_status st;
};

static void *release_later(void *arg) {
  struct releaser *r = arg;
  sleep_ms(r->after_ms);
  r->st = me_locker_release(r->l, false, NULL, NULL, NULL);
  return NULL;
}

static void blocking_and_expiry(const char *key) {
  section("blocking acquire gets the lock when the holder releases");
  me_locker *a = new_locker(key, 30), *b = new_locker(key, 30);
  EXPECT_ST(acquire(a, true, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  struct releaser r = {a, 400, ME_ERR_INTERNAL};
  pthread_t t;
  pthread_create(&t, NULL, release_later, &r);
  int64_t t0 = mono_ns();
  EXPECT_ST(acquire(b, true, 20.0, 0.05, false, &err), ME_OK);
  double took = elapsed_s(t0);
  pthread_join(t, NULL);
  CHECK(r.st == ME_OK, "the other thread's release -> %s", me_status_name((int)r.st));
  CHECK(took >= 0.3 && took < 20.0, "b waited for the release: %.2f s", took);
  CHECK(took < 0.4 + 2.0, "b (step 0.05 s) noticed the release at 0.4 s within a generous 2 s: took %.2f s", took);
  CHECK(me_locker_fence(b) > me_locker_fence(a), "b's fence %lld > a's %lld", (long long)me_locker_fence(b),
        (long long)me_locker_fence(a));
  EXPECT_ST(me_locker_release(b, false, NULL, NULL, &err), ME_OK);
  close_free(a);
  close_free(b);

  section("a non-blocking acquire right after the holder released");
  a = new_locker(key, 30);
  b = new_locker(key, 30);
  EXPECT_ST(acquire(a, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  EXPECT_ST(acquire(b, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_LOCK_EXISTS);
  EXPECT_ST(me_locker_release(a, false, NULL, NULL, &err), ME_OK);
  me_status st = acquire(b, false, NO_TIMEOUT, 0.25, false, NULL);
  CHECK(st == ME_OK, "b's non-blocking acquire of the lock a just released -> %s (\"%s\"), expected ME_OK",
        me_status_name((int)st), me_last_error_message());
  bool locked_now = true;
  EXPECT_ST(me_locker_locked(b, NULL, &locked_now, &err), ME_OK);
  if (st != ME_OK) {
    CHECK(!locked_now, "  while me_locked(b) reads the lock as free");
    EXPECT_ST(acquire(b, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  }
  close_free(a);
  close_free(b);

  section("an expired lock is taken by a waiter; the old holder lost it");
  me_locker *c = new_locker(key, 1.0), *d = new_locker(key, 1.0);
  EXPECT_ST(acquire(c, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  t0 = mono_ns();
  EXPECT_ST(acquire(d, true, 15.0, 0.05, false, &err), ME_OK);
  took = elapsed_s(t0);
  CHECK(took >= 0.5 && took < 15.0, "d got it after c's 1 s ttl ran out: %.2f s", took);
  CHECK(me_locker_fence(d) > me_locker_fence(c), "d's fence > c's");
  bool v = true;
  EXPECT_ST(me_locker_owned(c, NULL, &v, &err), ME_OK);
  CHECK(!v, "c does not own it any more");
  EXPECT_ST(me_locker_touch(c, NULL, NULL, &err), ME_ERR_NOT_OWNED);
  EXPECT_ST(me_locker_release(c, false, NULL, NULL, &err), ME_OK);
  EXPECT_ST(me_locker_owned(d, NULL, &v, &err), ME_OK);
  CHECK(v, "c's late release left d's lock alone");
  close_free(c);
  close_free(d); /* close releases d's lock */
  me_locker *e = new_locker(key, 30);
  EXPECT_ST(me_locker_locked(e, NULL, &v, &err), ME_OK);
  CHECK(!v, "me_locker_close released the lock it held");

  section("me_locker_free of a held, never-closed locker does not release: held until the ttl");
  me_locker *h = new_locker(key, 2.0);
  EXPECT_ST(acquire(h, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  int64_t hfence = me_locker_fence(h), hexp = 0;
  char huuid[128];
  snprintf(huuid, sizeof huuid, "%s", me_locker_uuid(h));
  me_locker_ts_expire(h, &hexp);
  me_locker_free(h); /* logs a warning: held without a release */
  me_current_lock *cur = NULL;
  EXPECT_ST(me_locker_current(e, NULL, &cur, &err), ME_OK);
  CHECK(cur != NULL && strcmp(cur->uuid, huuid) == 0 && cur->fence == hfence && cur->ts_expire_ms == hexp,
        "after me_locker_free the lock is still held by the freed locker (uuid, fence %lld, expiry)", (long long)hfence);
  me_current_lock_free(cur);
  EXPECT_ST(acquire(e, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_LOCK_EXISTS);
  t0 = mono_ns();
  EXPECT_ST(acquire(e, true, 15.0, 0.05, false, &err), ME_OK);
  int64_t got_at = wall_ms();
  CHECK(got_at >= hexp - 100, "another locker got it only when the 2 s ttl ran out (%lld ms after the expiry; waited %.2f s)",
        (long long)(got_at - hexp), elapsed_s(t0));
  CHECK(me_locker_fence(e) > hfence, "with a higher fence");

  section("me_locker_close: releases, idempotent, later calls ME_ERR_CLOSED, getters still work");
  EXPECT_ST(me_locker_close(e, &err), ME_OK);
  me_locker *w = new_locker(key, 30);
  EXPECT_ST(me_locker_locked(w, NULL, &v, &err), ME_OK);
  CHECK(!v, "close released the holding");
  EXPECT_ST(me_locker_close(e, &err), ME_OK);
  CHECK(1, "a second close is ME_OK");
  EXPECT_ST(acquire(e, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_CLOSED);
  EXPECT_ST(me_locker_release(e, false, NULL, NULL, &err), ME_ERR_CLOSED);
  EXPECT_ST(me_locker_touch(e, NULL, NULL, &err), ME_ERR_CLOSED);
  EXPECT_ST(me_locker_locked(e, NULL, &v, &err), ME_ERR_CLOSED);
  EXPECT_ST(me_locker_owned(e, NULL, &v, &err), ME_ERR_CLOSED);
  cur = NULL;
  EXPECT_ST(me_locker_current(e, NULL, &cur, &err), ME_ERR_CLOSED);
  me_lock_status *ls = NULL;
  EXPECT_ST(me_locker_status(e, NULL, &ls, &err), ME_ERR_CLOSED);
  CHECK(strcmp(me_locker_key(e), key) == 0 && me_locker_ttl(e) == 30.0 && me_locker_fence(e) > hfence,
        "getters keep working after close (key, ttl, fence)");
  me_locker_free(e);
  close_free(w);

  section("separate collections are separate locks");
  me_locker_options o;
  me_locker_options_init(&o);
  o.dbcollection = "other_locks";
  me_locker *f = NULL, *g = new_locker(key, 30);
  REQUIRE_OK(me_locker_new(client, db, key, &o, &f, &err));
  EXPECT_ST(me_locker_acquire(f, NULL, &err), ME_OK);
  CHECK(1, "  (opts NULL: the defaults, blocking; the lock was free)");
  EXPECT_ST(acquire(g, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  close_free(f);
  close_free(g);
}

static void timeparanoid(const char *key) {
  section("timeparanoid with maxoffset 0 (ME_ERR_TIME_OFFSET or OK, never anything else)");
  me_locker_options o;
  me_locker_options_init(&o);
  o.maxoffset = 0;
  o.ttl = 30;
  me_locker *l = NULL;
  REQUIRE_OK(me_locker_new(client, db, key, &o, &l, &err));
  me_status st = acquire(l, false, NO_TIMEOUT, 0.25, false, NULL);
  CHECK(st == ME_OK || st == ME_ERR_TIME_OFFSET, "me_acquire with maxoffset 0 -> %s (%s)", me_status_name((int)st),
        me_last_error_message());
  close_free(l);
  o.timeparanoid = false;
  REQUIRE_OK(me_locker_new(client, db, key, &o, &l, &err));
  EXPECT_ST(acquire(l, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  close_free(l);
}

int main(void) {
  test_begin("test_locker");
  REQUIRE_OK(me_client_new(t_uri, &client, &err));
  warm_up(client);
  rand_name(db, sizeof db, "ctest_locker");
  char key[64];
  options_defaults();
  new_bad_args();
  null_handles();
  options_getters();
  rand_name(key, sizeof key, "fresh");
  getters_and_fresh_state(key);
  rand_name(key, sizeof key, "main");
  acquire_release_records(key);
  rand_name(key, sizeof key, "block");
  blocking_and_expiry(key);
  rand_name(key, sizeof key, "paranoid");
  timeparanoid(key);
  me_client_free(client);
  return test_end();
}
