/* A private test server for the tests that freeze one (SIGSTOP) and thaw it (SIGCONT):
 * `scripts/test-server run DIR` in a child process, its URI read from the child's stdout.
 *
 *   pserver_start(&s)    starts it on a fresh data directory; false (and a FAIL) on failure
 *   pserver_freeze/thaw  SIGSTOP / SIGCONT
 *   pserver_stop(&s)     kills it and removes its data
 *   guard(seconds)       alarm() for the whole program: on SIGALRM (a hang) or SIGTERM the
 *                        private server is thawed and killed and the program exits 3, so
 *                        nothing outlives a hung test
 *
 * Include after testlib.h (it needs _POSIX_C_SOURCE 200809L for kill, mkdtemp, readlink). */
#ifndef ME_TEST_SERVER_H
#define ME_TEST_SERVER_H

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "testlib.h"

struct pserver {
  pid_t pid;
  int out; /* the child's stdout: kept open (a closed pipe would kill it on its next write) */
  char dir[128];
  char uri[640];
};

static volatile sig_atomic_t ps_pid; /* the running private server, for the signal handler */

static void ps_on_signal(int sig) {
  static const char msg[] = "\n  FAIL  the test hung (alarm) or was terminated: private server killed\n";
  pid_t p = (pid_t)ps_pid;
  if (p > 0) {
    kill(p, SIGCONT);
    kill(p, SIGKILL);
  }
  if (write(1, msg, sizeof msg - 1) < 0) _exit(4);
  _exit(sig == SIGALRM ? 3 : 4);
}

/* Bounds the whole program by `seconds` (alarm) and cleans up on SIGALRM and SIGTERM. */
static inline void guard(unsigned seconds) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = ps_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  alarm(seconds);
}

/* The repository's root: two levels above this program (target/c/<program>). */
static inline bool repo_root(char *buf, size_t n) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) return false;
  exe[len] = '\0';
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(exe, '/');
    if (slash == NULL) return false;
    *slash = '\0';
  }
  snprintf(buf, n, "%s", exe);
  return true;
}

/* Starts `scripts/test-server run DIR 127.0.0.1:0` and waits (up to 120 s: a first build of
 * the runner) for the URI it prints. */
static inline bool pserver_start(struct pserver *s) {
  char root[PATH_MAX], script[PATH_MAX + 32];
  memset(s, 0, sizeof *s);
  s->pid = -1;
  if (!repo_root(root, sizeof root)) {
    CHECK(false, "private server: the repository root from /proc/self/exe");
    return false;
  }
  snprintf(script, sizeof script, "%s/scripts/test-server", root);
  snprintf(s->dir, sizeof s->dir, "%s/me-ctest-server.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(s->dir) == NULL) {
    CHECK(false, "private server: mkdtemp %s: %s", s->dir, strerror(errno));
    return false;
  }
  int p[2];
  if (pipe(p) != 0) {
    CHECK(false, "private server: pipe: %s", strerror(errno));
    return false;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    CHECK(false, "private server: fork: %s", strerror(errno));
    return false;
  }
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execl(script, script, "run", s->dir, "127.0.0.1:0", (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  s->pid = pid;
  s->out = p[0];
  ps_pid = pid;
  char line[512];
  size_t got = 0;
  int64_t end = mono_ns() + (int64_t)120e9;
  while (mono_ns() < end) {
    struct pollfd pf = {s->out, POLLIN, 0};
    if (poll(&pf, 1, 200) <= 0) continue;
    ssize_t r = read(s->out, line + got, sizeof line - 1 - got);
    if (r <= 0) break;
    got += (size_t)r;
    line[got] = '\0';
    char *nl = strchr(line, '\n');
    if (nl == NULL && got < sizeof line - 1) continue;
    if (nl) *nl = '\0';
    if (strncmp(line, "mongodb://", 10) != 0) break;
    size_t len = strlen(line);
    while (len > 0 && line[len - 1] == '/') line[--len] = '\0';
    snprintf(s->uri, sizeof s->uri, "%s/?directConnection=true&serverSelectionTimeoutMS=2000", line);
    printf("  ..    private server %ld at %s\n", (long)pid, s->uri);
    return true;
  }
  CHECK(false, "private server: no URI from %s run (read \"%.200s\")", script, got ? line : "");
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  ps_pid = 0;
  s->pid = -1;
  return false;
}

static inline void pserver_freeze(struct pserver *s) {
  if (s->pid > 0) kill(s->pid, SIGSTOP);
}

static inline void pserver_thaw(struct pserver *s) {
  if (s->pid > 0) kill(s->pid, SIGCONT);
}

static inline void pserver_stop(struct pserver *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGCONT);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    close(s->out);
    ps_pid = 0;
    s->pid = -1;
  }
  if (s->dir[0]) {
    char cmd[sizeof s->dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0) printf("  ..    could not remove %s\n", s->dir);
    s->dir[0] = '\0';
  }
}

#endif
