/* Library-wide functions and the client: me_version, me_status_name, me_last_error_message,
 * the me_error out-parameter (status, message, NULL accepted, freed), cancellation tokens
 * without a call, the *_free(NULL) and *_options_init(NULL) no-ops, me_client_new/free
 * (bad URIs, an unreachable server, passwords never in messages). */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>

#include "testlib.h"

#define STR2(x) #x
#define STR(x) STR2(x)

static void versions(void) {
  section("me_version and the ME_VERSION_* macros");
  const char *v = me_version();
  CHECK(v != NULL && *v, "me_version() is a non-empty string: \"%s\"", v ? v : "(null)");
  const char *macro = STR(ME_VERSION_MAJOR) "." STR(ME_VERSION_MINOR) "." STR(ME_VERSION_PATCH);
  CHECK(v != NULL && strcmp(v, macro) == 0, "me_version() \"%s\" == ME_VERSION_* \"%s\"",
        v ? v : "(null)", macro);
  CHECK(me_version() == v, "me_version() is a static string (same pointer twice)");
}

static void status_names(void) {
  section("me_status_name for every status and unknown values");
  static const struct {
    int v;
    const char *name;
  } known[] = {{ME_OK, "ME_OK"},
               {ME_ERR_INVALID_ARGUMENT, "ME_ERR_INVALID_ARGUMENT"},
               {ME_ERR_LOCK_EXISTS, "ME_ERR_LOCK_EXISTS"},
               {ME_ERR_ACQUIRE_TIMEOUT, "ME_ERR_ACQUIRE_TIMEOUT"},
               {ME_ERR_TIME_OFFSET, "ME_ERR_TIME_OFFSET"},
               {ME_ERR_NOT_OWNED, "ME_ERR_NOT_OWNED"},
               {ME_ERR_DATABASE, "ME_ERR_DATABASE"},
               {ME_ERR_INVALID_STATE, "ME_ERR_INVALID_STATE"},
               {ME_ERR_CANCELLED, "ME_ERR_CANCELLED"},
               {ME_ERR_CLOSED, "ME_ERR_CLOSED"},
               {ME_ERR_INTERNAL, "ME_ERR_INTERNAL"}};
  static const int values[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 99};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
    const char *n = me_status_name(known[i].v);
    CHECK(known[i].v == values[i], "%s has the contract's value %d (is %d)", known[i].name,
          values[i], known[i].v);
    CHECK(n != NULL && strcmp(n, known[i].name) == 0, "me_status_name(%d) == \"%s\" (got \"%s\")",
          known[i].v, known[i].name, n ? n : "(null)");
  }
  static const int unknown[] = {-1, 10, 11, 98, 100, 1000, INT_MAX, INT_MIN};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *n = me_status_name(unknown[i]);
    CHECK(n != NULL && strcmp(n, "ME_UNKNOWN") == 0, "me_status_name(%d) == \"ME_UNKNOWN\" (got \"%s\")",
          unknown[i], n ? n : "(null)");
  }
}

static void *fresh_thread_message(void *arg) {
  const char **out = arg;
  const char *m = me_last_error_message();
  *out = m == NULL ? "(null)" : (*m ? "non-empty" : "");
  return NULL;
}

static void null_noops(void) {
  section("NULL no-ops and the last-error message");
  const char *state = "unset";
  pthread_t t;
  pthread_create(&t, NULL, fresh_thread_message, &state);
  pthread_join(t, NULL);
  CHECK(strcmp(state, "") == 0, "a new thread's me_last_error_message() is \"\" (got %s)", state);
  me_client_free(NULL);
  me_locker_free(NULL);
  me_elector_free(NULL);
  me_error_free(NULL);
  me_cancel_free(NULL);
  me_cancel_cancel(NULL);
  me_current_lock_free(NULL);
  me_lock_status_free(NULL);
  me_node_status_free(NULL);
  me_cluster_detail_free(NULL);
  me_locker_options_init(NULL);
  me_elector_options_init(NULL);
  me_acquire_options_init(NULL);
  CHECK(1, "every *_free(NULL), me_cancel_cancel(NULL) and *_options_init(NULL) return");
  CHECK(me_error_status(NULL) == ME_ERR_INTERNAL, "me_error_status(NULL) == ME_ERR_INTERNAL");
  CHECK(me_error_message(NULL) != NULL && strcmp(me_error_message(NULL), "") == 0, "me_error_message(NULL) == \"\"");
  CHECK(!me_cancel_is_cancelled(NULL), "me_cancel_is_cancelled(NULL) is false");
  CHECK(!me_cancel_wait(NULL, 5.0), "me_cancel_wait(NULL, 5) is false at once");
  CHECK(me_status_name(ME_OK) == me_status_name(ME_OK), "me_status_name gives static strings");

  me_client *c = (me_client *)&state; /* a sentinel: must stay unchanged on failure */
  EXPECT_ST(me_client_new(NULL, &c, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "uri") != NULL, "the message names the argument uri: \"%s\"",
        me_last_error_message());
  CHECK(c == (me_client *)&state, "*out is unchanged on failure");
  const char *m1 = me_last_error_message();
  CHECK(m1 == me_last_error_message() && *m1, "the message stays until the next call");
  EXPECT_ST(me_client_new(t_uri, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "out") != NULL, "the message names the argument out: \"%s\"",
        me_last_error_message());
  EXPECT_ST(me_client_new("mongodb://127.0.0.1:1/\xff\xfe", &c, &err), ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "UTF-8") != NULL, "bad UTF-8 is named in the message: \"%s\"",
        me_last_error_message());
  EXPECT_ST(me_client_new(t_uri, &c, &err), ME_OK);
  CHECK(strcmp(me_last_error_message(), "") == 0,
        "me_last_error_message() is \"\" after a successful call (got \"%s\")", me_last_error_message());
  CHECK(c != NULL && c != (me_client *)&state, "me_client_new wrote a handle");
  me_client_free(c);
}

struct err_from_thread {
  me_error *err;
  me_status st;
};

static void *fail_on_thread(void *arg) {
  struct err_from_thread *r = arg;
  me_client *c = NULL;
  r->st = me_client_new("not a uri", &c, &r->err);
  return NULL;
}

static void error_out_param(void) {
  section("the me_error out-parameter");
  me_error *err = NULL;
  me_client *c = NULL;
  me_status st = me_client_new("http://nope", &c, &err);
  CHECK(st == ME_ERR_INVALID_ARGUMENT, "me_client_new(\"http://nope\") -> %s", me_status_name((int)st));
  CHECK(err != NULL, "*err receives an error on failure");
  CHECK(me_error_status(err) == st, "me_error_status is the returned status (%s)",
        me_status_name((int)me_error_status(err)));
  const char *m = me_error_message(err);
  CHECK(m != NULL && *m, "me_error_message is non-empty: \"%s\"", m ? m : "(null)");
  CHECK(m != NULL && strcmp(m, me_last_error_message()) == 0, "and the same as me_last_error_message()");
  CHECK(m != NULL && strncmp(m, "mongoelector", 12) != 0, "and has no library-name prefix");
  CHECK(me_error_message(err) == m, "the message is owned by the error (same pointer twice)");
  CHECK(c == NULL, "*out untouched on failure");
  /* the error outlives this thread's later calls */
  char copy[512];
  snprintf(copy, sizeof copy, "%s", m);
  me_client *ok = NULL;
  me_error *err2 = NULL;
  CHECK(me_client_new(t_uri, &ok, &err2) == ME_OK, "a later successful call");
  CHECK(err2 == NULL, "  leaves *err NULL on success");
  CHECK(strcmp(me_last_error_message(), "") == 0, "  and clears me_last_error_message()");
  CHECK(strcmp(me_error_message(err), copy) == 0 && me_error_status(err) == ME_ERR_INVALID_ARGUMENT,
        "the earlier error keeps its status and message after later calls");
  me_error_free(err);
  me_client_free(ok);

  err = (me_error *)&copy; /* a sentinel: success must not write *err */
  st = me_client_new(t_uri, &ok, &err);
  CHECK(st == ME_OK && err == (me_error *)&copy, "success does not write *err");
  me_client_free(ok);

  st = me_client_new(NULL, &c, NULL);
  CHECK(st == ME_ERR_INVALID_ARGUMENT, "err NULL is accepted: the status is still returned (%s)",
        me_status_name((int)st));
  CHECK(strstr(me_last_error_message(), "uri") != NULL, "  and me_last_error_message() has the message: \"%s\"",
        me_last_error_message());

  /* an error made on one thread, read and freed on another */
  struct err_from_thread r = {NULL, ME_OK};
  pthread_t t;
  pthread_create(&t, NULL, fail_on_thread, &r);
  pthread_join(t, NULL);
  CHECK(r.st == ME_ERR_INVALID_ARGUMENT && r.err != NULL && me_error_status(r.err) == ME_ERR_INVALID_ARGUMENT &&
            strlen(me_error_message(r.err)) > 0,
        "an error made on another thread reads here: %s \"%s\"", me_status_name((int)me_error_status(r.err)),
        me_error_message(r.err));
  me_error_free(r.err);

  /* every status of a locker call comes with a matching error */
  me_client *cl = NULL;
  REQUIRE_OK(me_client_new(t_uri, &cl, &err));
  me_locker *l = NULL;
  me_error *e3 = NULL;
  st = me_locker_new(cl, "ctest_basics", "", NULL, &l, &e3);
  CHECK(st == ME_ERR_INVALID_ARGUMENT && me_error_status(e3) == st && strstr(me_error_message(e3), "key") != NULL,
        "me_locker_new with an empty key: %s \"%s\"", me_status_name((int)me_error_status(e3)), me_error_message(e3));
  me_error_free(e3);
  me_client_free(cl);
}

static void cancel_tokens(void) {
  section("cancellation tokens on their own");
  me_cancel *t = me_cancel_new();
  CHECK(t != NULL, "me_cancel_new is not NULL");
  CHECK(!me_cancel_is_cancelled(t), "a new token is not cancelled");
  int64_t t0 = mono_ns();
  CHECK(!me_cancel_wait(t, 0.2), "me_cancel_wait(0.2) on a live token returns false");
  double took = elapsed_s(t0);
  CHECK(took >= 0.15 && took < 5.0, "  after about 0.2 s (%.3f s)", took);
  me_cancel_cancel(t);
  CHECK(me_cancel_is_cancelled(t), "cancelled after me_cancel_cancel");
  me_cancel_cancel(t);
  CHECK(me_cancel_is_cancelled(t), "me_cancel_cancel is idempotent");
  t0 = mono_ns();
  CHECK(me_cancel_wait(t, -1.0), "me_cancel_wait on a cancelled token returns true");
  CHECK(elapsed_s(t0) < 0.5, "  at once (%.3f s)", elapsed_s(t0));
  me_cancel_free(t);
}

static void bad_uris(void) {
  section("me_client_new with bad URIs");
  static const char *const bad[] = {"", "not a uri", "http://127.0.0.1:27017", "mongodb://",
                                    "mongodb://127.0.0.1:99999",
                                    "mongodb://127.0.0.1/?serverSelectionTimeoutMS=abc",
                                    "mongodb://127.0.0.1/?nosuchoption=1&w=-5x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    me_client *c = NULL;
    me_status st = me_client_new(bad[i], &c, NULL);
    char call[160];
    snprintf(call, sizeof call, "me_client_new(\"%s\")", bad[i]);
    EXPECT_STATUS(st, ME_ERR_INVALID_ARGUMENT, call);
    CHECK(strlen(me_last_error_message()) > 0, "  with a message: \"%s\"", me_last_error_message());
    CHECK(c == NULL, "  and *out stays NULL");
    if (st == ME_OK) me_client_free(c);
  }
}

/* Every message of the library seen through the log callback, to look for passwords. */
static char log_text[65536];
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static void collect_log(void *ud, int level, const char *msg) {
  (void)ud;
  (void)level;
  pthread_mutex_lock(&log_mu);
  strncat(log_text, msg, sizeof log_text - strlen(log_text) - 2);
  strcat(log_text, "\n");
  pthread_mutex_unlock(&log_mu);
}

/* Runs one locker call against `uri` and checks its status, time and message. */
static void unreachable_case(const char *uri, const char *secret1, const char *secret2) {
  me_client *c = NULL;
  me_status st = me_client_new(uri, &c, NULL);
  const char *msg = me_last_error_message();
  CHECK(st == ME_OK || st == ME_ERR_DATABASE, "me_client_new on an unreachable server -> %s (OK: lazy)",
        me_status_name((int)st));
  if (secret1) {
    CHECK(strstr(msg, secret1) == NULL && (!secret2 || strstr(msg, secret2) == NULL),
          "me_client_new's message has no password: \"%s\"", msg);
  }
  if (st != ME_OK) return;
  me_locker *l = NULL;
  REQUIRE_OK(me_locker_new(c, "ctest_unreachable", "k", NULL, &l, &err));
  int64_t t0 = mono_ns();
  bool b = false;
  EXPECT_ST(me_locker_locked(l, NULL, &b, &err), ME_ERR_DATABASE);
  double took = elapsed_s(t0);
  msg = me_last_error_message();
  CHECK(took < 15.0, "  failed within a bounded time: %.2f s (serverSelectionTimeoutMS=500; bound 15 s)",
        took);
  CHECK(strlen(msg) > 0, "  with a message: \"%.300s\"", msg);
  if (secret1) {
    CHECK(strstr(msg, secret1) == NULL && (!secret2 || strstr(msg, secret2) == NULL),
          "  the message has no password (%s%s%s)", secret1, secret2 ? " / " : "", secret2 ? secret2 : "");
  }
  t0 = mono_ns();
  EXPECT_ST(acquire(l, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_DATABASE);
  took = elapsed_s(t0);
  CHECK(took < 15.0, "  me_acquire failed within a bounded time: %.2f s", took);
  if (secret1) {
    msg = me_last_error_message();
    CHECK(strstr(msg, secret1) == NULL && (!secret2 || strstr(msg, secret2) == NULL),
          "  me_acquire's message has no password: \"%.300s\"", msg);
  }
  me_locker_free(l);
  me_client_free(c);
}

static void unreachable_and_passwords(void) {
  section("an unreachable server fails with ME_ERR_DATABASE within a bounded time");
  me_set_log_callback(collect_log, 5, NULL);
  unreachable_case("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500&directConnection=true", NULL,
                   NULL);

  section("a URI's password never shows in messages");
  unreachable_case("mongodb://alice:Pa55-w0rd-Zq%21x@127.0.0.1:1/"
                   "?serverSelectionTimeoutMS=500&directConnection=true",
                   "Pa55-w0rd-Zq", NULL);
  /* unparsable URI with a password */
  me_client *c = NULL;
  EXPECT_ST(me_client_new("mongodb://alice:Pa55-w0rd-Zq@127.0.0.1:1/?serverSelectionTimeoutMS=abc", &c, &err),
            ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "Pa55-w0rd-Zq") == NULL,
        "the parse error has no password: \"%s\"", me_last_error_message());
  EXPECT_ST(me_client_new("mongodb://alice:Pa55-w0rd-Zq@127.0.0.1:1,/?authMechanism=NOPE", &c, &err),
            ME_ERR_INVALID_ARGUMENT);
  CHECK(strstr(me_last_error_message(), "Pa55-w0rd-Zq") == NULL,
        "a second parse error has no password: \"%s\"", me_last_error_message());

  /* The real server with credentials it does not know: authentication fails. */
  const char *scheme_end = strstr(t_uri, "://");
  if (scheme_end) {
    char uri[1024];
    snprintf(uri, sizeof uri, "%.*salice:Pa55-w0rd-Zq%%21x@%s", (int)(scheme_end + 3 - t_uri), t_uri,
             scheme_end + 3);
    me_client *ac = NULL;
    me_status st = me_client_new(uri, &ac, NULL);
    if (st == ME_OK) {
      me_locker *l = NULL;
      REQUIRE_OK(me_locker_new(ac, "ctest_auth", "k", NULL, &l, &err));
      bool b;
      st = me_locker_locked(l, NULL, &b, NULL);
      const char *msg = me_last_error_message();
      printf("  ..    wrong credentials on the test server -> %s: \"%.300s\"\n", me_status_name((int)st),
             msg);
      CHECK(st == ME_OK || st == ME_ERR_DATABASE, "wrong credentials give OK (no auth) or ME_ERR_DATABASE");
      CHECK(strstr(msg, "Pa55-w0rd-Zq") == NULL && strstr(msg, "Pa55-w0rd-Zq!x") == NULL,
            "the auth error has no password");
      me_locker_free(l);
      me_client_free(ac);
    } else {
      CHECK(st == ME_ERR_DATABASE || st == ME_ERR_INVALID_ARGUMENT, "client with credentials -> %s",
            me_status_name((int)st));
    }
  }
  me_set_log_callback(NULL, 2, NULL);
  pthread_mutex_lock(&log_mu);
  CHECK(strstr(log_text, "Pa55-w0rd-Zq") == NULL, "no log message (trace level) has the password (%zu bytes of log)",
        strlen(log_text));
  pthread_mutex_unlock(&log_mu);
}

static void client_lifetime(void) {
  section("lockers and electors keep working after me_client_free");
  me_client *c = NULL;
  REQUIRE_OK(me_client_new(t_uri, &c, &err));
  char db[64], key[64];
  rand_name(db, sizeof db, "ctest_basics");
  rand_name(key, sizeof key, "k");
  me_locker *l = NULL;
  me_elector *e = NULL;
  REQUIRE_OK(me_locker_new(c, db, key, NULL, &l, &err));
  REQUIRE_OK(me_elector_new(c, db, key, NULL, &e, &err));
  me_client_free(c);
  EXPECT_ST(acquire(l, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  bool owned = false;
  EXPECT_ST(me_locker_owned(l, NULL, &owned, &err), ME_OK);
  CHECK(owned, "the locker owns the lock after its client was freed");
  EXPECT_ST(me_locker_release(l, false, NULL, NULL, &err), ME_OK);
  EXPECT_ST(me_elector_poll(e, &err), ME_OK);
  CHECK(me_elector_is_leader(e), "the elector leads after its client was freed");
  EXPECT_ST(me_elector_close(e, &err), ME_OK);
  EXPECT_ST(me_locker_close(l, &err), ME_OK);
  me_elector_free(e);
  me_locker_free(l);
}

int main(void) {
  test_begin("test_basics");
  versions();
  status_names();
  null_noops();
  error_out_param();
  cancel_tokens();
  bad_uris();
  unreachable_and_passwords();
  client_lifetime();
  return test_end();
}
