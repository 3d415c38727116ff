/* The locker: options, me_locker_new's argument checks, acquire (blocking, non-blocking,
 * timeout, force, bad timeouts/steps), release/force, touch, locked/owned, get_current and
 * status JSON, the getters (incl. NULL handles), fences, expiry. */
#define _POSIX_C_SOURCE 200809L

#include "testlib.h"

static me_client *client;
static char db[64];

static me_locker *new_locker(const char *key, double ttl) { return locker_with_ttl(client, db, key, ttl); }

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
    l = sentinel;                                   \
    r[n].st = (call);                               \
    r[n].name = #call;                              \
    r[n].needle = needle_;                          \
    t_expect_st(r[n].st, ME_ERR_INVALID_ARGUMENT, #call, __FILE__, __LINE__); \
    CHECK(needle_ == NULL || strstr(me_last_error_message(), needle_ ? needle_ : "") != NULL, \
          "  message mentions \"%s\": \"%s\"", needle_ ? needle_ : "", me_last_error_message()); \
    CHECK(l == sentinel, "  *out unchanged");       \
    if (l != sentinel && r[n].st == ME_OK) me_locker_free(l); \
    n++;                                            \
  } while (0)
  TRY(me_locker_new(NULL, db, "k", NULL, &l), "client");
  TRY(me_locker_new(client, NULL, "k", NULL, &l), "db_name");
  TRY(me_locker_new(client, db, NULL, NULL, &l), "key");
  TRY(me_locker_new(client, db, "k", NULL, NULL), "out");
  TRY(me_locker_new(client, db, "", NULL, &l), "key");
  TRY(me_locker_new(client, db, "bad\xc3\x28utf8", NULL, &l), "UTF-8");
  TRY(me_locker_new(client, "db\xff", "k", NULL, &l), "UTF-8");
  TRY(me_locker_new(client, "", "k", NULL, &l), "database");
  TRY(me_locker_new(client, "a.b", "k", NULL, &l), "database");
  TRY(me_locker_new(client, "a b", "k", NULL, &l), "database");
  TRY(me_locker_new(client, "0123456789012345678901234567890123456789012345678901234567890123", "k",
                    NULL, &l),
      "database");
  o.ttl = 0;
  TRY(me_locker_new(client, db, "k", &o, &l), "ttl");
  o.ttl = -1;
  TRY(me_locker_new(client, db, "k", &o, &l), "ttl");
  o.ttl = NAN;
  TRY(me_locker_new(client, db, "k", &o, &l), "ttl");
  o.ttl = INFINITY;
  TRY(me_locker_new(client, db, "k", &o, &l), "ttl");
  o.ttl = -INFINITY;
  TRY(me_locker_new(client, db, "k", &o, &l), "ttl");
  o.ttl = 600;
  o.dbcollection = NULL;
  TRY(me_locker_new(client, db, "k", &o, &l), "dbcollection");
  o.dbcollection = "";
  TRY(me_locker_new(client, db, "k", &o, &l), "collection");
  o.dbcollection = "bad\xff";
  TRY(me_locker_new(client, db, "k", &o, &l), "UTF-8");
  o.dbcollection = "mongolocker";
  o.maxoffset = NAN;
  TRY(me_locker_new(client, db, "k", &o, &l), "maxoffset");
  o.maxoffset = -1;
  TRY(me_locker_new(client, db, "k", &o, &l), "maxoffset");
#undef TRY

  me_locker *d = NULL;
  EXPECT_ST(me_locker_new(client, db, "k", NULL, &d), ME_OK);
  CHECK(d != NULL && me_locker_ttl(d) == 600.0, "opts NULL gives the defaults (ttl %g)", me_locker_ttl(d));
  me_locker_free(d);
  me_locker_options_init(&o);
  o.ttl = 0.25;
  EXPECT_ST(me_locker_new(client, db, "k", &o, &d), ME_OK);
  CHECK(me_locker_ttl(d) == 0.25, "a fractional ttl is kept (%g)", me_locker_ttl(d));
  me_locker_free(d);
}

static void null_handles(void) {
  section("NULL handles and out-pointers");
  int64_t ms = 12345;
  bool b = true;
  char *js = (char *)&b;
  CHECK(me_locker_key(NULL) == NULL, "me_locker_key(NULL) == NULL");
  CHECK(me_locker_uuid(NULL) == NULL, "me_locker_uuid(NULL) == NULL");
  CHECK(me_locker_host(NULL) == NULL, "me_locker_host(NULL) == NULL");
  CHECK(me_locker_pid(NULL) == 0, "me_locker_pid(NULL) == 0");
  CHECK(me_locker_fence(NULL) == 0, "me_locker_fence(NULL) == 0");
  CHECK(me_locker_ttl(NULL) == 0.0, "me_locker_ttl(NULL) == 0");
  CHECK(me_locker_ts_expire(NULL, &ms) == false && ms == 12345, "me_locker_ts_expire(NULL, &ms) == false, ms untouched");
  EXPECT_ST(me_acquire(NULL, false, ME_NO_TIMEOUT, 0.25, false), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "locker") != NULL, "  names locker: \"%s\"", me_last_error_message());
  EXPECT_ST(me_try_acquire(NULL, 1.0, false), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_release(NULL, false), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_touch(NULL, &ms), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_locked(NULL, &b), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_owned(NULL, &b), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_get_current(NULL, &js), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_locker_status(NULL, &js), ME_ERR_INVALID_ARGUMENT);
  me_locker *l = new_locker("nullouts", 30);
  EXPECT_ST(me_locked(l, NULL), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "out") != NULL, "  names out: \"%s\"", me_last_error_message());
  EXPECT_ST(me_owned(l, NULL), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_get_current(l, NULL), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "json_out") != NULL, "  names json_out: \"%s\"", me_last_error_message());
  EXPECT_ST(me_locker_status(l, NULL), ME_ERR_INVALID_ARGUMENT);
  CHECK(me_locker_ts_expire(l, NULL) == false, "me_locker_ts_expire(l, NULL) == false");
  CHECK(js == (char *)&b, "json_out untouched by failed calls");
  me_locker_free(l);
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
  me_locker_free(l2);
  int64_t ms = 777;
  CHECK(!me_locker_ts_expire(l, &ms) && ms == 777, "me_locker_ts_expire is false before any acquire, out untouched");
  CHECK(me_locker_fence(l) == 0, "me_locker_fence == 0 before any acquire (got %lld)", (long long)me_locker_fence(l));
  bool b = true;
  EXPECT_ST(me_locked(l, &b), ME_OK);
  CHECK(!b, "me_locked is false on a fresh key");
  b = true;
  EXPECT_ST(me_owned(l, &b), ME_OK);
  CHECK(!b, "me_owned is false on a fresh key");
  char *js = (char *)&b;
  EXPECT_ST(me_get_current(l, &js), ME_OK);
  CHECK(js == NULL, "me_get_current writes NULL when nobody holds the lock");
  me_string_free(js);
  EXPECT_ST(me_touch(l, NULL), ME_ERR_NOT_OWNED);
  CHECK(strlen(me_last_error_message()) > 0, "  with a message: \"%s\"", me_last_error_message());
  EXPECT_ST(me_release(l, false), ME_OK);
  CHECK(strcmp(me_last_error_message(), "") == 0, "me_last_error_message cleared by a successful call");
  js = NULL;
  EXPECT_ST(me_locker_status(l, &js), ME_OK);
  CHECK(json_is_object(js), "me_locker_status is a JSON object: %s", js ? js : "(null)");
  static const char *const keys[] = {"uuid", "key", "ttl", "timestamp", "host", "pid", "lock_owned",
                                     "lock_created", "lock_expires", "fence", NULL};
  check_keys("status (free lock)", js, keys);
  CHECK(json_is_false(json_get(js, "lock_owned")), "lock_owned false");
  CHECK(json_is_null(json_get(js, "lock_created")) && json_is_null(json_get(js, "lock_expires")) &&
            json_is_null(json_get(js, "fence")),
        "lock_created, lock_expires, fence are null when not owned");
  CHECK(json_time_near(json_get(js, "timestamp"), wall_ms(), 60000), "timestamp is an RFC 3339 UTC time near now");
  me_string_free(js);
  me_locker_free(l);
}

static void acquire_release_json(const char *key) {
  section("acquire, JSON of a held lock, contention, touch, release");
  me_locker *a = new_locker(key, 30), *b = new_locker(key, 30);
  int64_t before = wall_ms();
  EXPECT_ST(me_acquire(a, false, ME_NO_TIMEOUT, 0.25, false), ME_OK);
  bool v = false;
  EXPECT_ST(me_owned(a, &v), ME_OK);
  CHECK(v, "a owns the lock");
  v = false;
  EXPECT_ST(me_locked(b, &v), ME_OK);
  CHECK(v, "b sees it locked");
  EXPECT_ST(me_owned(b, &v), ME_OK);
  CHECK(!v, "b does not own it");
  int64_t fa = me_locker_fence(a), exp_a = 0;
  CHECK(fa > 0, "a's fence > 0 after acquiring (%lld)", (long long)fa);
  CHECK(me_locker_ts_expire(a, &exp_a), "me_locker_ts_expire true after acquiring");
  CHECK(llabs((long long)(exp_a - (before + 30000))) < 60000, "ts_expire ~ now + ttl (%lld ms from it)",
        (long long)(exp_a - (before + 30000)));

  char *js = NULL;
  EXPECT_ST(me_get_current(b, &js), ME_OK);
  CHECK(json_is_object(js), "me_get_current is a JSON object: %s", js ? js : "(null)");
  static const char *const ckeys[] = {"_id", "locked", "host", "uuid", "pid", "ts_created", "ts_expire", "fence", NULL};
  check_keys("get_current", js, ckeys);
  CHECK(json_str_eq(json_get(js, "_id"), key), "_id is the key");
  CHECK(json_is_true(json_get(js, "locked")), "locked true");
  CHECK(json_str_eq(json_get(js, "uuid"), me_locker_uuid(a)), "uuid is a's (%s)", me_locker_uuid(a));
  CHECK(json_str_eq(json_get(js, "host"), me_locker_host(a)), "host is a's");
  CHECK(json_num_eq(json_get(js, "pid"), (double)getpid()), "pid is ours");
  CHECK(json_num_eq(json_get(js, "fence"), (double)fa), "fence equals me_locker_fence(a) %lld", (long long)fa);
  int64_t t_exp = 0, t_cre = 0;
  bool ok_exp = json_time_ms(json_get(js, "ts_expire"), &t_exp);
  bool ok_cre = json_time_ms(json_get(js, "ts_created"), &t_cre);
  CHECK(ok_exp && t_exp == exp_a, "ts_expire (RFC 3339 ms) equals me_locker_ts_expire (%lld vs %lld)",
        (long long)t_exp, (long long)exp_a);
  CHECK(ok_cre && t_cre <= t_exp && llabs((long long)(t_exp - t_cre - 30000)) <= 1000,
        "ts_created is RFC 3339, ttl before ts_expire (%lld ms)", (long long)(t_exp - t_cre));
  me_string_free(js);

  js = NULL;
  EXPECT_ST(me_locker_status(a, &js), ME_OK);
  static const char *const skeys[] = {"uuid", "key", "ttl", "timestamp", "host", "pid", "lock_owned",
                                      "lock_created", "lock_expires", "fence", NULL};
  CHECK(json_is_object(js), "a's status is a JSON object: %s", js ? js : "(null)");
  check_keys("status (owner)", js, skeys);
  CHECK(json_str_eq(json_get(js, "uuid"), me_locker_uuid(a)) && json_str_eq(json_get(js, "key"), key),
        "uuid and key are a's");
  CHECK(json_num_eq(json_get(js, "ttl"), 30.0), "ttl is 30 (seconds)");
  CHECK(json_num_eq(json_get(js, "pid"), (double)getpid()) &&
            json_str_eq(json_get(js, "host"), me_locker_host(a)),
        "pid and host");
  CHECK(json_is_true(json_get(js, "lock_owned")), "lock_owned true");
  ok_cre = json_time_ms(json_get(js, "lock_created"), &t_cre);
  CHECK(ok_cre, "lock_created is an RFC 3339 time");
  t_exp = 0;
  ok_exp = json_time_ms(json_get(js, "lock_expires"), &t_exp);
  CHECK(ok_exp && t_exp == exp_a, "lock_expires == ts_expire (%lld vs %lld)", (long long)t_exp, (long long)exp_a);
  CHECK(json_num_eq(json_get(js, "fence"), (double)fa), "fence == a's fence");
  me_string_free(js);
  js = NULL;
  EXPECT_ST(me_locker_status(b, &js), ME_OK);
  CHECK(json_is_false(json_get(js, "lock_owned")) && json_is_null(json_get(js, "fence")) &&
            json_is_null(json_get(js, "lock_expires")),
        "b's status: lock_owned false, fence and lock_expires null: %s", js ? js : "(null)");
  me_string_free(js);

  section("contention: non-blocking, timeouts, bad timeout/step values");
  EXPECT_ST(me_acquire(b, false, ME_NO_TIMEOUT, 0.25, false), ME_ERR_LOCK_EXISTS);
  CHECK(strstr(me_last_error_message(), key) != NULL, "  the message names the key: \"%s\"", me_last_error_message());
  CHECK(me_locker_fence(b) == 0, "b's fence stays 0 after failing");
  int64_t t0 = mono_ns();
  EXPECT_ST(me_acquire(b, true, 0.6, 0.1, false), ME_ERR_ACQUIRE_TIMEOUT);
  double took = elapsed_s(t0);
  CHECK(took >= 0.55 && took < 20.0, "  it waited about the timeout: %.2f s (0.6 s)", took);
  t0 = mono_ns();
  EXPECT_ST(me_acquire(b, true, 0.0, 0.1, false), ME_ERR_ACQUIRE_TIMEOUT);
  CHECK(elapsed_s(t0) < 20.0, "  timeout 0 returns promptly (%.2f s)", elapsed_s(t0));
  EXPECT_ST(me_acquire(b, true, 0.3, 0.0, false), ME_ERR_ACQUIRE_TIMEOUT);
  static const double bad_timeouts[] = {-0.5, -2.0, -1.0000001, -INFINITY, INFINITY};
  for (size_t i = 0; i < sizeof bad_timeouts / sizeof bad_timeouts[0]; i++) {
    char call[96];
    snprintf(call, sizeof call, "me_acquire(b, blocking, timeout=%g)", bad_timeouts[i]);
    t_expect_st(me_acquire(b, true, bad_timeouts[i], 0.25, false), ME_ERR_INVALID_ARGUMENT, call, __FILE__,
                __LINE__);
  }
  EXPECT_ST(me_acquire(b, true, NAN, 0.25, false), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_acquire(b, false, 1.0, 0.25, false), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "blocking") != NULL, "  the message explains blocking=false: \"%s\"",
        me_last_error_message());
  EXPECT_ST(me_acquire(b, false, 0.0, 0.25, false), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_acquire(b, false, -5.0, 0.25, false), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_acquire(b, false, NAN, 0.25, false), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_acquire(b, true, 1.0, -0.25, false), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "step") != NULL, "  names step: \"%s\"", me_last_error_message());
  EXPECT_ST(me_acquire(b, true, 1.0, NAN, false), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_acquire(b, true, 1.0, INFINITY, false), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_try_acquire(b, -0.5, false), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_try_acquire(b, NAN, false), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_try_acquire(b, INFINITY, false), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "timeout") != NULL, "  names timeout: \"%s\"", me_last_error_message());
  t0 = mono_ns();
  EXPECT_ST(me_try_acquire(b, 5.0, false), ME_ERR_LOCK_EXISTS);
  CHECK(elapsed_s(t0) < 5.0, "  me_try_acquire makes one attempt, no waiting (%.2f s)", elapsed_s(t0));
  EXPECT_ST(me_try_acquire(b, ME_NO_TIMEOUT, false), ME_ERR_LOCK_EXISTS);
  /* the invalid calls changed nothing */
  EXPECT_ST(me_owned(a, &v), ME_OK);
  CHECK(v, "a still owns the lock after b's failed attempts");

  section("re-acquire renews, touch");
  int64_t exp0 = exp_a;
  sleep_ms(20);
  EXPECT_ST(me_acquire(a, true, ME_NO_TIMEOUT, 0.25, false), ME_OK);
  CHECK(me_locker_fence(a) == fa, "acquiring a held lock keeps the fence (%lld)", (long long)me_locker_fence(a));
  int64_t nexp = 0;
  EXPECT_ST(me_touch(a, NULL), ME_OK);
  sleep_ms(20);
  EXPECT_ST(me_touch(a, &nexp), ME_OK);
  int64_t exp_now = 0;
  me_locker_ts_expire(a, &exp_now);
  CHECK(nexp > exp0 && nexp == exp_now, "touch moved the expiry forward (%lld -> %lld) and ts_expire follows (%lld)",
        (long long)exp0, (long long)nexp, (long long)exp_now);
  CHECK(me_locker_fence(a) == fa, "touch keeps the fence");
  nexp = -1;
  EXPECT_ST(me_touch(b, &nexp), ME_ERR_NOT_OWNED);
  CHECK(nexp == -1, "  NOT_OWNED leaves *new_expire_ms untouched");
  CHECK(strstr(me_last_error_message(), key) != NULL, "  names the key: \"%s\"", me_last_error_message());

  section("force acquire and force release");
  EXPECT_ST(me_acquire(b, false, ME_NO_TIMEOUT, 0.25, true), ME_OK);
  int64_t fb = me_locker_fence(b);
  CHECK(fb > fa, "b's forced fence %lld > a's %lld", (long long)fb, (long long)fa);
  EXPECT_ST(me_owned(a, &v), ME_OK);
  CHECK(!v, "a no longer owns it");
  EXPECT_ST(me_touch(a, NULL), ME_ERR_NOT_OWNED);
  EXPECT_ST(me_release(a, false), ME_OK);
  EXPECT_ST(me_owned(b, &v), ME_OK);
  CHECK(v, "a's non-forced release did not free b's lock");
  EXPECT_ST(me_release(a, true), ME_OK);
  EXPECT_ST(me_locked(b, &v), ME_OK);
  CHECK(!v, "a's forced release freed b's lock");
  EXPECT_ST(me_owned(b, &v), ME_OK);
  CHECK(!v, "b no longer owns it");
  EXPECT_ST(me_touch(b, NULL), ME_ERR_NOT_OWNED);
  js = (char *)&v;
  EXPECT_ST(me_get_current(a, &js), ME_OK);
  CHECK(js == NULL, "get_current NULL after the force release");
  me_string_free(js);
  EXPECT_ST(me_release(b, false), ME_OK);
  EXPECT_ST(me_release(b, true), ME_OK);
  CHECK(1, "releasing a free lock (force or not) is ME_OK");

  section("fences strictly increase across holders");
  int64_t last = fb;
  bool increasing = true;
  for (int i = 0; i < 6; i++) {
    me_locker *x = (i % 2) ? a : b;
    me_status st = me_acquire(x, true, 10.0, 0.05, false);
    int64_t f = me_locker_fence(x);
    if (st != ME_OK || f <= last) {
      increasing = false;
      printf("        round %d: %s fence %lld after %lld (%s)\n", i, me_status_name((int)st), (long long)f,
             (long long)last, me_last_error_message());
    }
    last = f;
    me_release(x, false);
  }
  CHECK(increasing, "6 alternating acquisitions gave strictly increasing fences (last %lld)", (long long)last);
  me_locker_free(a);
  me_locker_free(b);
}

struct releaser {
  me_locker *l;
  long after_ms;
  me_status st;
};

static void *release_later(void *arg) {
  struct releaser *r = arg;
  sleep_ms(r->after_ms);
  r->st = me_release(r->l, false);
  return NULL;
}

static void blocking_and_expiry(const char *key) {
  section("blocking acquire gets the lock when the holder releases");
  me_locker *a = new_locker(key, 30), *b = new_locker(key, 30);
  EXPECT_ST(me_acquire(a, true, ME_NO_TIMEOUT, 0.25, false), ME_OK);
  struct releaser r = {a, 400, ME_ERR_INTERNAL};
  pthread_t t;
  pthread_create(&t, NULL, release_later, &r);
  int64_t t0 = mono_ns();
  EXPECT_ST(me_acquire(b, true, 20.0, 0.05, false), ME_OK);
  double took = elapsed_s(t0);
  pthread_join(t, NULL);
  CHECK(r.st == ME_OK, "the other thread's release -> %s", me_status_name((int)r.st));
  CHECK(took >= 0.3 && took < 20.0, "b waited for the release: %.2f s", took);
  CHECK(took < 0.4 + 2.0, "b (step 0.05 s) noticed the release at 0.4 s within a generous 2 s: took %.2f s", took);
  CHECK(me_locker_fence(b) > me_locker_fence(a), "b's fence %lld > a's %lld", (long long)me_locker_fence(b),
        (long long)me_locker_fence(a));
  EXPECT_ST(me_release(b, false), ME_OK);
  me_locker_free(a);
  me_locker_free(b);

  section("a non-blocking acquire right after the holder released");
  a = new_locker(key, 30);
  b = new_locker(key, 30);
  EXPECT_ST(me_acquire(a, false, ME_NO_TIMEOUT, 0.25, false), ME_OK);
  EXPECT_ST(me_acquire(b, false, ME_NO_TIMEOUT, 0.25, false), ME_ERR_LOCK_EXISTS);
  EXPECT_ST(me_release(a, false), ME_OK);
  me_status st = me_acquire(b, false, ME_NO_TIMEOUT, 0.25, false);
  CHECK(st == ME_OK, "b's non-blocking acquire of the lock a just released -> %s (\"%s\"), expected ME_OK",
        me_status_name((int)st), me_last_error_message());
  bool locked_now = true;
  EXPECT_ST(me_locked(b, &locked_now), ME_OK);
  if (st != ME_OK) {
    CHECK(!locked_now, "  while me_locked(b) reads the lock as free");
    EXPECT_ST(me_acquire(b, false, ME_NO_TIMEOUT, 0.25, false), ME_OK);
  }
  me_locker_free(a);
  me_locker_free(b);

  section("an expired lock is taken by a waiter; the old holder lost it");
  me_locker *c = new_locker(key, 1.0), *d = new_locker(key, 1.0);
  EXPECT_ST(me_acquire(c, false, ME_NO_TIMEOUT, 0.25, false), ME_OK);
  t0 = mono_ns();
  EXPECT_ST(me_acquire(d, true, 15.0, 0.05, false), ME_OK);
  took = elapsed_s(t0);
  CHECK(took >= 0.5 && took < 15.0, "d got it after c's 1 s ttl ran out: %.2f s", took);
  CHECK(me_locker_fence(d) > me_locker_fence(c), "d's fence > c's");
  bool v = true;
  EXPECT_ST(me_owned(c, &v), ME_OK);
  CHECK(!v, "c does not own it any more");
  EXPECT_ST(me_touch(c, NULL), ME_ERR_NOT_OWNED);
  EXPECT_ST(me_release(c, false), ME_OK);
  EXPECT_ST(me_owned(d, &v), ME_OK);
  CHECK(v, "c's late release left d's lock alone");
  me_locker_free(c);
  me_locker_free(d); /* releases d's lock */
  me_locker *e = new_locker(key, 30);
  EXPECT_ST(me_locked(e, &v), ME_OK);
  CHECK(!v, "me_locker_free released the lock it held");
  me_locker_free(e);

  section("separate collections are separate locks");
  me_locker_options o;
  me_locker_options_init(&o);
  o.dbcollection = "other_locks";
  me_locker *f = NULL, *g = new_locker(key, 30);
  REQUIRE_OK(me_locker_new(client, db, key, &o, &f));
  EXPECT_ST(me_acquire(f, false, ME_NO_TIMEOUT, 0.25, false), ME_OK);
  EXPECT_ST(me_acquire(g, false, ME_NO_TIMEOUT, 0.25, false), ME_OK);
  me_locker_free(f);
  me_locker_free(g);
}

static void timeparanoid(const char *key) {
  section("timeparanoid with maxoffset 0 (ME_ERR_TIME_OFFSET or OK, never anything else)");
  me_locker_options o;
  me_locker_options_init(&o);
  o.maxoffset = 0;
  o.ttl = 30;
  me_locker *l = NULL;
  REQUIRE_OK(me_locker_new(client, db, key, &o, &l));
  me_status st = me_acquire(l, false, ME_NO_TIMEOUT, 0.25, false);
  CHECK(st == ME_OK || st == ME_ERR_TIME_OFFSET, "me_acquire with maxoffset 0 -> %s (%s)", me_status_name((int)st),
        me_last_error_message());
  me_locker_free(l);
  o.timeparanoid = false;
  REQUIRE_OK(me_locker_new(client, db, key, &o, &l));
  EXPECT_ST(me_acquire(l, false, ME_NO_TIMEOUT, 0.25, false), ME_OK);
  me_locker_free(l);
}

int main(void) {
  test_begin("test_locker");
  REQUIRE_OK(me_client_new(t_uri, &client));
  warm_up(client);
  rand_name(db, sizeof db, "ctest_locker");
  char key[64];
  options_defaults();
  new_bad_args();
  null_handles();
  rand_name(key, sizeof key, "fresh");
  getters_and_fresh_state(key);
  rand_name(key, sizeof key, "main");
  acquire_release_json(key);
  rand_name(key, sizeof key, "block");
  blocking_and_expiry(key);
  rand_name(key, sizeof key, "paranoid");
  timeparanoid(key);
  me_client_free(client);
  return test_end();
}
