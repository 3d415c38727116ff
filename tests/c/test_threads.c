/* Threads: cancelling (me_cancel_cancel), closing and freeing a locker while another thread
 * waits in me_locker_acquire on it, a token cancelled before the call, free after a close made
 * on another thread, many threads sharing one locker handle and one elector handle, per-thread
 * last-error messages, and mutual exclusion between lockers of one key used from several
 * threads. tests/sanitizers/tsan.sh runs
 * this program under ThreadSanitizer. */
#define _POSIX_C_SOURCE 200809L

#include "testlib.h"

static me_client *client;
static char db[64];

static me_locker *new_locker(const char *key, double ttl) { return locker_with_ttl(client, db, key, ttl); }

/* A thread waiting in me_locker_acquire on a held key; it records the status, its me_error
 * and when it returned. */
struct waiter {
  me_locker *l;
  double timeout;
  const me_cancel *cancel;
  int done;
  me_status st;
  me_status err_st;
  char msg[256];
  int64_t returned_ns;
};

static void *wait_acquire(void *arg) {
  struct waiter *w = arg;
  me_acquire_options o = acq_opts(true, w->timeout, 0.05, false, w->cancel);
  me_error *err = NULL;
  w->st = me_locker_acquire(w->l, &o, &err);
  w->returned_ns = mono_ns();
  w->err_st = me_error_status(err);
  snprintf(w->msg, sizeof w->msg, "%s", me_error_message(err));
  me_error_free(err);
  flag_set(&w->done);
  return NULL;
}

enum interrupt { BY_CANCEL, BY_CLOSE, BY_FREE, BY_CLOSE_ON_THREAD };

struct closer {
  me_locker *l;
  me_status st;
};

static void *close_on_thread(void *arg) {
  struct closer *c = arg;
  c->st = me_locker_close(c->l, NULL);
  return NULL;
}

/* A waiter on `key` (held by another locker) interrupted by `how` after 0.5 s: it must return
 * `want` within `bound_s` of the interruption, and the holder must still own the lock. */
static void interrupt_waiting(const char *key, double timeout, enum interrupt how, me_status want, double bound_s) {
  me_locker *holder = new_locker(key, 30), *l = new_locker(key, 30);
  REQUIRE_OK(acquire(holder, false, NO_TIMEOUT, 0.25, false, &err));
  me_cancel *tok = me_cancel_new();
  struct waiter w = {l, timeout, tok, 0, ME_ERR_INTERNAL, ME_ERR_INTERNAL, "", 0};
  pthread_t t;
  pthread_create(&t, NULL, wait_acquire, &w);
  sleep_ms(500);
  CHECK(!flag_get(&w.done), "the waiter is still waiting after 0.5 s (timeout %g)", timeout);
  int64_t t0 = mono_ns();
  struct closer c = {l, ME_ERR_INTERNAL};
  pthread_t ct;
  const char *what = "";
  switch (how) {
    case BY_CANCEL:
      me_cancel_cancel(tok);
      what = "me_cancel_cancel";
      break;
    case BY_CLOSE:
      EXPECT_ST(me_locker_close(l, &err), ME_OK);
      what = "me_locker_close";
      break;
    case BY_FREE:
      me_locker_free(l);
      what = "me_locker_free";
      break;
    case BY_CLOSE_ON_THREAD:
      pthread_create(&ct, NULL, close_on_thread, &c);
      pthread_join(ct, NULL);
      EXPECT_STATUS(c.st, ME_OK, "me_locker_close on a third thread");
      what = "me_locker_close on a third thread";
      break;
  }
  bool returned = wait_flag(&w.done, 15.0);
  CHECK(returned, "the waiting acquire returned after %s", what);
  if (!returned) {
    printf("        the waiter never returned: giving up (cannot join)\n");
    exit(1);
  }
  pthread_join(t, NULL);
  double took = (double)(w.returned_ns - t0) / 1e9;
  CHECK(took < bound_s, "  within %.0f ms of %s (%.1f ms)", bound_s * 1000, what, took * 1000);
  EXPECT_STATUS(w.st, want, "  the waiting me_locker_acquire");
  CHECK(w.err_st == w.st && strlen(w.msg) > 0, "  with its me_error: %s \"%s\"", me_status_name((int)w.err_st), w.msg);
  bool v = false;
  EXPECT_ST(me_locker_owned(holder, NULL, &v, &err), ME_OK);
  CHECK(v, "  the holder still owns the lock");
  if (how == BY_CANCEL) {
    CHECK(me_locker_fence(l) == 0, "  the cancelled locker never got a fence");
    EXPECT_ST(acquire(l, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_LOCK_EXISTS);
    CHECK(1, "  the locker stays usable after a cancelled call");
    EXPECT_ST(me_locker_close(l, &err), ME_OK);
    me_locker_free(l);
  }
  if (how == BY_CLOSE || how == BY_CLOSE_ON_THREAD) {
    EXPECT_ST(acquire(l, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_CLOSED);
    me_locker_free(l); /* free after a close made on another thread (BY_CLOSE_ON_THREAD) */
  }
  me_cancel_free(tok);
  EXPECT_ST(me_locker_close(holder, &err), ME_OK);
  me_locker_free(holder);
}

static void cancel_before(const char *key) {
  section("a token cancelled before the call: ME_ERR_CANCELLED at once, nothing done");
  me_locker *l = new_locker(key, 30), *other = new_locker(key, 30);
  me_cancel *tok = me_cancel_new();
  me_cancel_cancel(tok);
  me_acquire_options o = acq_opts(true, 10.0, 0.05, false, tok);
  int64_t t0 = mono_ns();
  EXPECT_ST(me_locker_acquire(l, &o, &err), ME_ERR_CANCELLED);
  CHECK(elapsed_s(t0) < 0.05, "  within 50 ms (%.1f ms)", elapsed_s(t0) * 1000);
  o.blocking = false;
  EXPECT_ST(me_locker_acquire(l, &o, &err), ME_ERR_CANCELLED);
  bool v = true;
  EXPECT_ST(me_locker_locked(other, NULL, &v, &err), ME_OK);
  CHECK(!v, "  the lock was not taken");
  EXPECT_ST(me_locker_locked(l, tok, &v, &err), ME_ERR_CANCELLED);
  EXPECT_ST(me_locker_owned(l, tok, &v, &err), ME_ERR_CANCELLED);
  me_current_lock *cur = NULL;
  EXPECT_ST(me_locker_current(l, tok, &cur, &err), ME_ERR_CANCELLED);
  me_lock_status *ls = NULL;
  EXPECT_ST(me_locker_status(l, tok, &ls, &err), ME_ERR_CANCELLED);
  EXPECT_ST(me_locker_release(l, false, tok, NULL, &err), ME_ERR_CANCELLED);
  EXPECT_ST(me_locker_touch(l, tok, NULL, &err), ME_ERR_CANCELLED);
  /* the same locker without the token still works; a live token passes */
  me_cancel *live = me_cancel_new();
  o = acq_opts(false, NO_TIMEOUT, 0.25, false, live);
  EXPECT_ST(me_locker_acquire(l, &o, &err), ME_OK);
  EXPECT_ST(me_locker_touch(l, live, NULL, &err), ME_OK);
  bool released = false;
  EXPECT_ST(me_locker_release(l, false, live, &released, &err), ME_OK);
  CHECK(released, "  a live token does not stop the calls (acquired, touched, released)");
  me_cancel_free(live);
  me_cancel_free(tok);
  EXPECT_ST(me_locker_close(l, &err), ME_OK);
  EXPECT_ST(me_locker_close(other, &err), ME_OK);
  me_locker_free(l);
  me_locker_free(other);
}

#define NTHREADS 8
#define ROUNDS 15

/* One of NTHREADS threads calling into one shared handle; `bad` and `evidence` tell what failed. */
struct worker {
  void *handle;
  int id;
  int bad;
  char evidence[256];
};

/* Runs `fn` on NTHREADS workers sharing `handle`, then checks that every call was allowed. */
static void run_workers(void *(*fn)(void *), void *handle) {
  struct worker w[NTHREADS];
  pthread_t t[NTHREADS];
  int64_t t0 = mono_ns();
  for (int i = 0; i < NTHREADS; i++) {
    w[i].handle = handle;
    w[i].id = i;
    w[i].bad = 0;
    w[i].evidence[0] = '\0';
    pthread_create(&t[i], NULL, fn, &w[i]);
  }
  for (int i = 0; i < NTHREADS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < NTHREADS; i++)
    CHECK(!w[i].bad, "thread %d: every call gave an allowed status%s%s", i, w[i].bad ? ": " : "",
          w[i].evidence);
  printf("  ..    %d threads x %d rounds took %.2f s\n", NTHREADS, ROUNDS, elapsed_s(t0));
}

static void *hammer(void *arg) {
  struct worker *s = arg;
  me_locker *l = s->handle;
  for (int i = 0; i < ROUNDS && !s->bad; i++) {
    me_status st;
    bool b;
    me_current_lock *cur = NULL;
    me_lock_status *ls = NULL;
    int64_t ms;
#define OKAY(call, extra_ok)                                                                       \
  do {                                                                                             \
    me_error *err = NULL;                                                                          \
    st = (call);                                                                                   \
    if (st != ME_OK && st != (extra_ok)) {                                                         \
      s->bad = 1;                                                                                  \
      snprintf(s->evidence, sizeof s->evidence, "thread %d round %d: %s -> %s: %s", s->id, i, #call, \
               me_status_name((int)st), me_error_message(err));                                   \
    }                                                                                              \
    me_error_free(err);                                                                            \
  } while (0)
    switch ((s->id + i) % 6) {
      case 0: /* the lock is shared by every thread of this handle: acquiring renews */
        OKAY(acquire(l, true, 20.0, 0.01, false, &err), ME_OK);
        break;
      case 1:
        OKAY(me_locker_touch(l, NULL, &ms, &err), ME_ERR_NOT_OWNED);
        break;
      case 2:
        OKAY(me_locker_release(l, false, NULL, NULL, &err), ME_OK);
        break;
      case 3:
        OKAY(me_locker_locked(l, NULL, &b, &err), ME_OK);
        OKAY(me_locker_owned(l, NULL, &b, &err), ME_OK);
        break;
      case 4:
        OKAY(me_locker_current(l, NULL, &cur, &err), ME_OK);
        if (cur && (cur->key == NULL || strcmp(cur->key, me_locker_key(l)) != 0 || cur->fence <= 0 ||
                    strcmp(cur->uuid, me_locker_uuid(l)) != 0)) {
          s->bad = 1;
          snprintf(s->evidence, sizeof s->evidence, "thread %d: current record wrong: key %s fence %lld", s->id,
                   cur->key ? cur->key : "(null)", (long long)cur->fence);
        }
        me_current_lock_free(cur);
        cur = NULL;
        OKAY(me_locker_status(l, NULL, &ls, &err), ME_OK);
        if (ls == NULL || strcmp(ls->uuid, me_locker_uuid(l)) != 0 || (ls->lock_owned && ls->fence <= 0)) {
          s->bad = 1;
          snprintf(s->evidence, sizeof s->evidence, "thread %d: status record wrong", s->id);
        }
        me_lock_status_free(ls);
        ls = NULL;
        break;
      default: {
        /* this thread's error message survives the other threads' successful calls */
        st = me_locker_locked(l, NULL, NULL, NULL);
        char mine[128];
        snprintf(mine, sizeof mine, "%s", me_last_error_message());
        sleep_ms(10);
        if (st != ME_ERR_INVALID_ARGUMENT || strstr(mine, "out") == NULL ||
            strcmp(mine, me_last_error_message()) != 0) {
          s->bad = 1;
          snprintf(s->evidence, sizeof s->evidence, "thread %d: per-thread message lost: %s / \"%s\" / \"%s\"",
                   s->id, me_status_name((int)st), mine, me_last_error_message());
        }
        if (strcmp(me_locker_key(l), "") == 0 || me_locker_pid(l) != getpid()) {
          s->bad = 1;
          snprintf(s->evidence, sizeof s->evidence, "thread %d: getters changed", s->id);
        }
        (void)me_locker_fence(l);
        (void)me_locker_ts_expire(l, &ms);
      }
    }
#undef OKAY
  }
  return NULL;
}

static void shared_handle(const char *key) {
  section("8 threads share one locker handle (acquire/touch/release/locked/owned/records/getters)");
  me_locker *l = new_locker(key, 30);
  run_workers(hammer, l);
  EXPECT_ST(acquire(l, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  bool v = false;
  EXPECT_ST(me_locker_owned(l, NULL, &v, &err), ME_OK);
  CHECK(v, "the handle still works afterwards (owns the lock)");
  EXPECT_ST(me_locker_close(l, &err), ME_OK);
  me_locker_free(l);
}

/* Mutual exclusion inside one process: each thread has its own locker on one key. */
struct excl {
  const char *key;
  int id;
  int iterations;
  int failures;
  char evidence[256];
};
static pthread_mutex_t ex_mu = PTHREAD_MUTEX_INITIALIZER;
static int ex_inside, ex_max_inside;
static int64_t ex_last_fence;
static int ex_fence_order_ok = 1;

static void *exclusive_worker(void *arg) {
  struct excl *x = arg;
  me_locker *l = new_locker(x->key, 10);
  for (int i = 0; i < x->iterations; i++) {
    me_status st = acquire(l, true, 60.0, 0.02, false, NULL);
    if (st != ME_OK) {
      x->failures++;
      snprintf(x->evidence, sizeof x->evidence, "acquire -> %s: %s", me_status_name((int)st),
               me_last_error_message());
      continue;
    }
    pthread_mutex_lock(&ex_mu);
    ex_inside++;
    if (ex_inside > ex_max_inside) ex_max_inside = ex_inside;
    int64_t f = me_locker_fence(l);
    if (f <= ex_last_fence) ex_fence_order_ok = 0;
    ex_last_fence = f;
    pthread_mutex_unlock(&ex_mu);
    sleep_ms(15);
    pthread_mutex_lock(&ex_mu);
    ex_inside--;
    pthread_mutex_unlock(&ex_mu);
    st = me_locker_release(l, false, NULL, NULL, NULL);
    if (st != ME_OK) {
      x->failures++;
      snprintf(x->evidence, sizeof x->evidence, "release -> %s", me_status_name((int)st));
    }
  }
  me_locker_close(l, NULL);
  me_locker_free(l);
  return NULL;
}

static void exclusion(const char *key) {
  section("3 threads, one locker each, one key: never two holders, fences increase");
  struct excl x[3];
  pthread_t t[3];
  int64_t t0 = mono_ns();
  for (int i = 0; i < 3; i++) {
    x[i].key = key;
    x[i].id = i;
    x[i].iterations = 3;
    x[i].failures = 0;
    x[i].evidence[0] = '\0';
    pthread_create(&t[i], NULL, exclusive_worker, &x[i]);
  }
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 3; i++)
    CHECK(x[i].failures == 0, "thread %d: all acquires and releases OK %s", i, x[i].evidence);
  CHECK(ex_max_inside == 1, "at most one holder at a time (max seen %d)", ex_max_inside);
  CHECK(ex_fence_order_ok, "fences strictly increase in holding order (last %lld)", (long long)ex_last_fence);
  printf("  ..    9 exclusive holdings took %.2f s\n", elapsed_s(t0));
}

/* Many threads share one elector handle while a rival elector contends for the same key. */
static pthread_mutex_t lead_mu = PTHREAD_MUTEX_INITIALIZER;
static int leading_now, leading_max, lead_order_bad;

struct lead_flag {
  int leading; /* this elector's own state, for checking that its callbacks alternate */
};

static void on_lead(void *ud) {
  struct lead_flag *f = ud;
  pthread_mutex_lock(&lead_mu);
  if (f->leading) lead_order_bad = 1;
  f->leading = 1;
  if (++leading_now > leading_max) leading_max = leading_now;
  pthread_mutex_unlock(&lead_mu);
}

static void on_loss(void *ud) {
  struct lead_flag *f = ud;
  pthread_mutex_lock(&lead_mu);
  if (!f->leading) lead_order_bad = 1;
  f->leading = 0;
  leading_now--;
  pthread_mutex_unlock(&lead_mu);
}

static me_elector *new_elector(const char *key, struct lead_flag *flag) {
  me_elector_options o;
  me_elector_options_init(&o);
  o.ttl = getenv("ME_TEST_MEMCHECK") ? 4.0 : 1.0; /* valgrind is slow: reads are bounded by half a ttl */
  o.on_leader = on_lead;
  o.on_leader_loss = on_loss;
  o.user_data = flag;
  return elector_with(client, db, key, &o);
}

static void *use_elector(void *arg) {
  struct worker *u = arg;
  me_elector *e = u->handle;
  for (int i = 0; i < ROUNDS && !u->bad; i++) {
    me_status st = ME_OK, extra = ME_OK;
    const char *call = "";
    bool b;
    me_error *err = NULL;
    me_node_status *ns = NULL;
    me_cluster_detail *cd = NULL;
    switch ((u->id + i) % 6) {
      case 0: /* starting a running elector is refused, nothing else */
        st = me_elector_start(e, false, &err), extra = ME_ERR_INVALID_STATE, call = "start";
        break;
      case 1:
        st = me_elector_stop(e, &err), call = "stop";
        break;
      case 2:
        st = me_elector_poll(e, &err), call = "poll";
        break;
      case 3:
        st = me_elector_release(e, &err), call = "release";
        break;
      case 4:
        (void)me_elector_running(e);
        (void)me_elector_poll_wait(e);
        (void)me_elector_is_leader(e);
        st = me_elector_leader_exists(e, NULL, &b, &err), call = "leader_exists";
        break;
      default:
        st = me_elector_node_status(e, NULL, &ns, &err), call = "node_status";
        if (st == ME_OK && (ns == NULL || strcmp(ns->lock.uuid, me_locker_uuid(me_elector_locker(e))) != 0))
          st = ME_ERR_INTERNAL, call = "node_status record";
        me_node_status_free(ns);
        if (st == ME_OK) st = me_elector_cluster_detail(e, NULL, &cd, &err), call = "cluster_detail";
        if (st == ME_OK && (cd == NULL || (cd->member_count > 0 && cd->members == NULL)))
          st = ME_ERR_INTERNAL, call = "cluster_detail record";
        me_cluster_detail_free(cd);
    }
    if (st != ME_OK && st != extra) {
      u->bad = 1;
      snprintf(u->evidence, sizeof u->evidence, "thread %d round %d: %s -> %s: %s", u->id, i, call,
               me_status_name((int)st), err ? me_error_message(err) : "(no me_error)");
    }
    me_error_free(err);
    sleep_ms(20);
  }
  return NULL;
}

static void shared_elector(const char *key) {
  section("8 threads share one elector handle (start/stop/poll/release/status) beside a rival");
  struct lead_flag mine = {0}, theirs = {0};
  me_elector *e = new_elector(key, &mine), *rival = new_elector(key, &theirs);
  REQUIRE_OK(me_elector_start(rival, false, &err));
  run_workers(use_elector, e);
  EXPECT_ST(me_elector_stop(e, &err), ME_OK);
  EXPECT_ST(me_elector_stop(rival, &err), ME_OK);
  EXPECT_ST(me_elector_start(e, false, &err), ME_OK);
  bool leads = false;
  for (int i = 0; i < 1000 && !leads; i++) {
    leads = me_elector_is_leader(e);
    if (!leads) sleep_ms(10);
  }
  CHECK(leads, "the shared elector leads again once started alone");
  EXPECT_ST(me_elector_close(e, &err), ME_OK);
  EXPECT_ST(me_elector_close(rival, &err), ME_OK);
  me_elector_free(e);
  me_elector_free(rival);
  CHECK(leading_max == 1, "never two leaders at once (most at once: %d)", leading_max);
  CHECK(!lead_order_bad, "each elector's on_leader and on_leader_loss alternate");
  CHECK(leading_now == 0, "every leadership ended with on_leader_loss (%d left)", leading_now);
}

int main(void) {
  test_begin("test_threads");
  REQUIRE_OK(me_client_new(t_uri, &client, &err));
  warm_up(client);
  rand_name(db, sizeof db, "ctest_threads");
  char key[64];
  section("me_cancel_cancel from this thread while another waits in me_locker_acquire (no timeout)");
  rand_name(key, sizeof key, "cancelwait");
  interrupt_waiting(key, NO_TIMEOUT, BY_CANCEL, ME_ERR_CANCELLED, 0.05);
  section("me_cancel_cancel while another thread waits in me_locker_acquire (timeout 30 s)");
  rand_name(key, sizeof key, "cancelwait2");
  interrupt_waiting(key, 30.0, BY_CANCEL, ME_ERR_CANCELLED, 0.05);
  rand_name(key, sizeof key, "cancelbefore");
  cancel_before(key);
  section("me_locker_close while another thread waits in me_locker_acquire");
  rand_name(key, sizeof key, "closewait");
  interrupt_waiting(key, NO_TIMEOUT, BY_CLOSE, ME_ERR_CLOSED, 0.5);
  section("me_locker_close on a third thread while another waits, then me_locker_free here");
  rand_name(key, sizeof key, "closewait2");
  interrupt_waiting(key, 30.0, BY_CLOSE_ON_THREAD, ME_ERR_CLOSED, 0.5);
  section("me_locker_free while another thread waits in me_locker_acquire");
  rand_name(key, sizeof key, "freewait");
  interrupt_waiting(key, NO_TIMEOUT, BY_FREE, ME_ERR_CLOSED, 0.5);
  rand_name(key, sizeof key, "shared");
  shared_handle(key);
  rand_name(key, sizeof key, "elector");
  shared_elector(key);
  rand_name(key, sizeof key, "excl");
  exclusion(key);
  me_client_free(client);
  return test_end();
}
