/* Processes (issue 13): the library used before fork() keeps working in the child through new
 * handles (a new client and locker acquire and release; a new elector leads), an inherited
 * client makes new lockers in the child, inherited lockers and electors fail every call with
 * ME_ERR_INVALID_STATE there and never act for the parent (no release of the parent's lock),
 * the parent's handles keep working after the child exits, and 4 forked children plus the
 * parent contending for one key (200 holdings) never overlap and get increasing fences.
 * Every child is bounded by alarm(), so a regression fails instead of hanging. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "testlib.h"

static me_client *client;
static char db[64];
static unsigned child_alarm_s = 30;

/* Under valgrind a forked child's exit runs the leak check over the memory it inherited (the
 * parent's runtime, which the child must never touch) and exits with valgrind's error code:
 * so the child reports its verdict through a pipe, and under ME_TEST_MEMCHECK that exit code
 * alone does not fail the child. */
#define VALGRIND_ERROR_EXIT 42

/* Waits for a child and judges it by its exit status and the verdict byte it wrote to `rd`. */
static bool child_passed(pid_t pid, int rd, char *why, size_t n) {
  int status = 0;
  waitpid(pid, &status, 0);
  char verdict = '?';
  if (read(rd, &verdict, 1) != 1) verdict = '?';
  close(rd);
  bool exited_ok = WIFEXITED(status) &&
                   (WEXITSTATUS(status) == 0 ||
                    (getenv("ME_TEST_MEMCHECK") && WEXITSTATUS(status) == VALGRIND_ERROR_EXIT));
  snprintf(why, n, "exit %d%s, verdict %c", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
           WIFSIGNALED(status) ? (WTERMSIG(status) == SIGALRM ? ", SIGALRM: it hung" : ", killed by a signal") : "",
           verdict);
  return exited_ok && verdict == 'P';
}

/* Forks; the child runs fn(arg) under alarm(child_alarm_s), writes 'P' (its checks passed) or
 * 'F' to a pipe and exits. The parent waits and judges it (child_passed). */
static void in_child(const char *what, void (*fn)(void *), void *arg) {
  int p[2];
  if (pipe(p) != 0) {
    CHECK(false, "%s: pipe failed: %s", what, strerror(errno));
    return;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    CHECK(false, "%s: fork failed: %s", what, strerror(errno));
    return;
  }
  if (pid == 0) {
    close(p[0]);
    alarm(child_alarm_s); /* SIGALRM kills a hung child */
    t_passed = t_failed = 0;
    fn(arg);
    printf("  ..    child %ld: %d passed, %d failed\n", (long)getpid(), t_passed, t_failed);
    fflush(stdout);
    char verdict = t_failed == 0 ? 'P' : 'F';
    if (write(p[1], &verdict, 1) != 1) _exit(3);
    _exit(t_failed == 0 ? 0 : 1);
  }
  close(p[1]);
  char why[128];
  bool ok = child_passed(pid, p[0], why, sizeof why);
  CHECK(ok, "%s: the child passed (%s)", what, why);
}

/* ---- a new client and locker in the child ---- */

static void child_new_locker(void *arg) {
  const char *key = arg;
  me_client *c = NULL;
  REQUIRE_OK(me_client_new(t_uri, &c, &err));
  me_locker *l = locker_with_ttl(c, db, key, 30);
  EXPECT_ST(acquire(l, true, 10.0, 0.05, false, &err), ME_OK);
  CHECK(me_locker_fence(l) > 0, "child: a fence (%lld)", (long long)me_locker_fence(l));
  CHECK(me_locker_pid(l) == (int64_t)getpid(), "child: the new locker records the child's pid");
  bool released = false;
  EXPECT_ST(me_locker_release(l, false, NULL, &released, &err), ME_OK);
  CHECK(released, "child: released");
  EXPECT_ST(me_locker_close(l, &err), ME_OK);
  me_locker_free(l);
  me_client_free(c);
}

static void child_new_elector(void *arg) {
  const char *key = arg;
  me_client *c = NULL;
  REQUIRE_OK(me_client_new(t_uri, &c, &err));
  me_elector_options o;
  me_elector_options_init(&o);
  o.ttl = 2;
  me_elector *e = NULL;
  REQUIRE_OK(me_elector_new(c, db, key, &o, &e, &err));
  EXPECT_ST(me_elector_start(e, false, &err), ME_OK);
  int64_t t0 = mono_ns();
  while (!me_elector_is_leader(e) && elapsed_s(t0) < 15) sleep_ms(20);
  CHECK(me_elector_is_leader(e), "child: the new elector leads (%.2f s)", elapsed_s(t0));
  EXPECT_ST(me_elector_close(e, &err), ME_OK);
  me_elector_free(e);
  me_client_free(c);
}

static void fresh_handles_in_child(void) {
  section("the library used before fork; the child makes a new client and locker, then an elector");
  char key[64];
  rand_name(key, sizeof key, "fork_new");
  me_locker *l = locker_with_ttl(client, db, key, 30);
  EXPECT_ST(acquire(l, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  EXPECT_ST(me_locker_release(l, false, NULL, NULL, &err), ME_OK);
  in_child("a new client + locker acquire (timeout 10 s) and release in the child", child_new_locker, key);
  char ekey[64];
  rand_name(ekey, sizeof ekey, "fork_elect");
  in_child("a new client + elector leads in the child", child_new_elector, ekey);
  EXPECT_ST(acquire(l, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  CHECK(1, "the parent's locker acquires again after the children exited");
  EXPECT_ST(me_locker_close(l, &err), ME_OK);
  me_locker_free(l);
}

/* ---- inherited handles ---- */

struct inherited {
  me_locker *held;   /* held by the parent */
  me_elector *elector;
  const char *key;
};

static void child_inherited(void *arg) {
  struct inherited *in = arg;
  bool b = false;
  EXPECT_ST(me_locker_owned(in->held, NULL, &b, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_locker_locked(in->held, NULL, &b, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(acquire(in->held, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_locker_touch(in->held, NULL, NULL, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_locker_release(in->held, false, NULL, NULL, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_locker_release(in->held, true, NULL, NULL, &err), ME_ERR_INVALID_STATE);
  me_current_lock *cur = NULL;
  EXPECT_ST(me_locker_current(in->held, NULL, &cur, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_locker_close(in->held, &err), ME_ERR_INVALID_STATE);
  CHECK(strcmp(me_locker_key(in->held), in->key) == 0, "child: getters of an inherited locker still work");
  EXPECT_ST(me_elector_poll(in->elector, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_elector_start(in->elector, false, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_elector_release(in->elector, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_elector_leader_exists(in->elector, NULL, &b, &err), ME_ERR_INVALID_STATE);
  EXPECT_ST(me_elector_close(in->elector, &err), ME_ERR_INVALID_STATE);
  /* the inherited client works for new lockers: the lock is held (by the parent) */
  me_locker *mine = locker_with_ttl(client, db, in->key, 30);
  EXPECT_ST(me_locker_locked(mine, NULL, &b, &err), ME_OK);
  CHECK(b, "child: a new locker from the inherited client sees the parent's lock held");
  cur = NULL;
  EXPECT_ST(me_locker_current(mine, NULL, &cur, &err), ME_OK);
  CHECK(cur && strcmp(cur->uuid, me_locker_uuid(in->held)) == 0 && cur->pid == (int64_t)getppid(),
        "child: held by the parent's locker (uuid, pid %lld)", cur ? (long long)cur->pid : -1LL);
  me_current_lock_free(cur);
  EXPECT_ST(acquire(mine, false, NO_TIMEOUT, 0.25, false, &err), ME_ERR_LOCK_EXISTS);
  char other[80];
  snprintf(other, sizeof other, "%s_child", in->key);
  me_locker *free_key = locker_with_ttl(client, db, other, 30);
  EXPECT_ST(acquire(free_key, true, 10.0, 0.05, false, &err), ME_OK);
  CHECK(1, "child: the inherited client acquires a free key through a new locker");
  EXPECT_ST(me_locker_close(free_key, &err), ME_OK);
  me_locker_free(free_key);
  EXPECT_ST(me_locker_close(mine, &err), ME_OK);
  me_locker_free(mine);
  /* freeing inherited handles in the child is safe and releases nothing */
  me_locker_free(in->held);
  me_elector_free(in->elector);
}

static void inherited_handles(void) {
  section("inherited lockers and electors are not the child's; the inherited client works");
  char key[64], ekey[64];
  rand_name(key, sizeof key, "fork_inh");
  rand_name(ekey, sizeof ekey, "fork_inh_e");
  me_locker *held = locker_with_ttl(client, db, key, 30);
  EXPECT_ST(acquire(held, false, NO_TIMEOUT, 0.25, false, &err), ME_OK);
  int64_t fence = me_locker_fence(held), exp = 0;
  me_locker_ts_expire(held, &exp);
  me_elector_options o;
  me_elector_options_init(&o);
  o.ttl = getenv("ME_TEST_MEMCHECK") ? 120 : 10; /* the lease must outlast the child (slow under valgrind) */
  me_elector *e = NULL;
  REQUIRE_OK(me_elector_new(client, db, ekey, &o, &e, &err));
  EXPECT_ST(me_elector_poll(e, &err), ME_OK);
  CHECK(me_elector_is_leader(e), "the parent's elector leads");
  struct inherited in = {held, e, key};
  in_child("inherited handles in the child", child_inherited, &in);
  bool b = false;
  EXPECT_ST(me_locker_owned(held, NULL, &b, &err), ME_OK);
  CHECK(b && me_locker_fence(held) == fence, "the parent still owns its lock after the child exited (fence %lld)",
        (long long)fence);
  me_current_lock *cur = NULL;
  EXPECT_ST(me_locker_current(held, NULL, &cur, &err), ME_OK);
  CHECK(cur && cur->fence == fence && cur->ts_expire_ms == exp && strcmp(cur->uuid, me_locker_uuid(held)) == 0,
        "the lock document is the parent's holding, unchanged");
  me_current_lock_free(cur);
  EXPECT_ST(me_locker_touch(held, NULL, NULL, &err), ME_OK);
  bool released = false;
  EXPECT_ST(me_locker_release(held, false, NULL, &released, &err), ME_OK);
  CHECK(released, "the parent's locker renews and releases after the child exited");
  EXPECT_ST(me_elector_poll(e, &err), ME_OK);
  CHECK(me_elector_is_leader(e), "the parent's elector still leads and polls");
  EXPECT_ST(me_elector_close(e, &err), ME_OK);
  me_elector_free(e);
  EXPECT_ST(me_locker_close(held, &err), ME_OK);
  me_locker_free(held);
}

/* ---- 4 children + the parent contend for one key ---- */

#define CONTENDERS 5
#define HOLDS_EACH 40 /* 200 in all */

struct contend_args {
  const char *key;
  int fd; /* O_APPEND file: one line per holding */
};

/* Takes the lock HOLDS_EACH times with its own client and locker, logging each holding as
 * "pid fence start_ns end_ns" (CLOCK_MONOTONIC, comparable across processes). */
static int contend(const struct contend_args *a) {
  me_client *c = NULL;
  me_error *err = NULL;
  if (me_client_new(t_uri, &c, &err) != ME_OK) {
    printf("  FAIL  contender %ld: me_client_new: %s\n", (long)getpid(), me_error_message(err));
    me_error_free(err);
    return 1;
  }
  me_locker *l = locker_with_ttl(c, db, a->key, 10);
  me_acquire_options o = acq_opts(true, 60.0, 0.01, false, NULL);
  int bad = 0;
  for (int i = 0; i < HOLDS_EACH; i++) {
    me_status st = me_locker_acquire(l, &o, &err);
    if (st != ME_OK) {
      printf("  FAIL  contender %ld: acquire %d: %s: %s\n", (long)getpid(), i, me_status_name((int)st),
             me_error_message(err));
      me_error_free(err);
      err = NULL;
      bad++;
      continue;
    }
    int64_t start = mono_ns();
    sleep_ms(2);
    int64_t end = mono_ns();
    int64_t fence = me_locker_fence(l);
    st = me_locker_release(l, false, NULL, NULL, &err);
    if (st != ME_OK) {
      me_error_free(err);
      err = NULL;
      bad++;
    }
    char line[128];
    int n = snprintf(line, sizeof line, "%ld %lld %lld %lld\n", (long)getpid(), (long long)fence, (long long)start,
                     (long long)end);
    if (write(a->fd, line, (size_t)n) != n) bad++;
  }
  me_locker_close(l, NULL);
  me_locker_free(l);
  me_client_free(c);
  return bad;
}

struct holding {
  long pid;
  long long fence, start, end;
};

static int by_start(const void *x, const void *y) {
  const struct holding *a = x, *b = y;
  return (a->start > b->start) - (a->start < b->start);
}

static void processes_contend(void) {
  section("4 forked children and the parent contend for one key: 200 holdings");
  char key[64];
  rand_name(key, sizeof key, "fork_mutex");
  char path[] = "/tmp/me_fork_holds_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    CHECK(false, "mkstemp: %s", strerror(errno));
    return;
  }
  close(fd);
  fd = open(path, O_WRONLY | O_APPEND);
  struct contend_args a = {key, fd};
  pid_t pids[CONTENDERS - 1];
  int rds[CONTENDERS - 1];
  fflush(stdout);
  int64_t t0 = mono_ns();
  for (int i = 0; i < CONTENDERS - 1; i++) {
    int p[2];
    if (pipe(p) != 0) p[0] = p[1] = -1;
    pids[i] = fork();
    if (pids[i] == 0) {
      close(p[0]);
      alarm(child_alarm_s * 4);
      int bad = contend(&a);
      fflush(stdout);
      char verdict = bad == 0 ? 'P' : 'F';
      if (write(p[1], &verdict, 1) != 1) _exit(3);
      _exit(bad == 0 ? 0 : 1);
    }
    close(p[1]);
    rds[i] = p[0];
  }
  int parent_bad = contend(&a);
  int children_ok = 0;
  for (int i = 0; i < CONTENDERS - 1; i++) {
    char why[128];
    if (child_passed(pids[i], rds[i], why, sizeof why)) children_ok++;
    else
      printf("        child %ld: %s\n", (long)pids[i], why);
  }
  close(fd);
  double took = elapsed_s(t0);
  CHECK(parent_bad == 0 && children_ok == CONTENDERS - 1, "every contender's calls succeeded (%d/%d children, %.1f s)",
        children_ok, CONTENDERS - 1, took);
  FILE *f = fopen(path, "r");
  struct holding h[CONTENDERS * HOLDS_EACH + 8];
  size_t n = 0;
  while (f && n < sizeof h / sizeof h[0] &&
         fscanf(f, "%ld %lld %lld %lld", &h[n].pid, &h[n].fence, &h[n].start, &h[n].end) == 4)
    n++;
  if (f) fclose(f);
  unlink(path);
  CHECK(n == CONTENDERS * HOLDS_EACH, "%d holdings recorded (got %zu)", CONTENDERS * HOLDS_EACH, n);
  qsort(h, n, sizeof h[0], by_start);
  int overlaps = 0, order = 0;
  long pids_seen[CONTENDERS] = {0};
  int npids = 0;
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && h[i].start < h[i - 1].end) overlaps++;
    if (i > 0 && h[i].fence <= h[i - 1].fence) order++;
    int seen = 0;
    for (int k = 0; k < npids; k++) seen |= pids_seen[k] == h[i].pid;
    if (!seen && npids < CONTENDERS) pids_seen[npids++] = h[i].pid;
  }
  CHECK(overlaps == 0, "never two holders at once (%d overlaps)", overlaps);
  CHECK(order == 0, "fences strictly increase in holding order (%d violations; %lld..%lld)", order,
        n ? h[0].fence : 0, n ? h[n - 1].fence : 0);
  CHECK(npids == CONTENDERS, "all %d processes held the lock (%d did)", CONTENDERS, npids);
}

int main(void) {
  test_begin("test_fork");
  if (getenv("ME_TEST_MEMCHECK")) child_alarm_s = 120;
  REQUIRE_OK(me_client_new(t_uri, &client, &err));
  warm_up(client);
  rand_name(db, sizeof db, "ctest_fork");
  fresh_handles_in_child();
  inherited_handles();
  processes_contend();
  me_client_free(client);
  return test_end();
}
