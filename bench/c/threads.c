/* Threads sharing one locker handle on one key, and one more thread with its own
 * locker on another key through the same client.
 * usage: me_bench_threads URI DB KEY THREADS SECONDS TIMEOUT_S OTHER(0|1)
 * Each shared thread loops for SECONDS: me_locker_acquire (blocking, timeout
 * TIMEOUT_S) then, if it succeeded, me_locker_release; the other thread (OTHER 1)
 * does the same on KEY-other with its own locker. Acquire calls are timed.
 * prints: "shared OK TIMEOUTS ERRORS P50 P99 MAX"   acquire calls of the shared threads (ns)
 *         "release P50 P99 MAX"                     their releases
 *         "other OK TIMEOUTS ERRORS P50 P99 MAX"    the other key's thread (OTHER 1)
 *         "secs NS"                                 from the start to the last thread's end */
#include "bench.h"

#include <pthread.h>

typedef struct {
  int64_t *v;
  int n, cap;
} series;

static void push(series *s, int64_t x) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 1024;
    s->v = realloc(s->v, (size_t)s->cap * sizeof *s->v);
    if (!s->v) exit(1);
  }
  s->v[s->n++] = x;
}

typedef struct {
  me_locker *locker;
  int64_t end;
  double timeout;
  series acq, rel;
  long ok, timeouts, errors;
} worker;

static void *run(void *arg) {
  worker *w = arg;
  me_acquire_options ao;
  me_acquire_options_init(&ao);
  ao.blocking = true;
  ao.has_timeout = true;
  ao.timeout = w->timeout;
  while (mono_ns() < w->end) {
    me_error *err = NULL;
    int64_t t0 = mono_ns();
    me_status st = me_locker_acquire(w->locker, &ao, &err);
    int64_t t1 = mono_ns();
    push(&w->acq, t1 - t0);
    if (st == ME_OK) {
      w->ok++;
      me_error *e2 = NULL;
      if (me_locker_release(w->locker, false, NULL, NULL, &e2) != ME_OK) {
        w->errors++;
        me_error_free(e2);
      }
      push(&w->rel, mono_ns() - t1);
    } else if (st == ME_ERR_ACQUIRE_TIMEOUT) {
      w->timeouts++;
    } else {
      if (w->errors++ == 0) fprintf(stderr, "acquire: %s: %s\n", me_status_name((int)st), me_error_message(err));
    }
    me_error_free(err);
  }
  return NULL;
}

static void merge(series *into, const series *s) {
  for (int i = 0; i < s->n; i++) push(into, s->v[i]);
}

static void stats(const char *label, series *s, bool counts, long ok, long to, long errs) {
  if (counts) printf("%s %ld %ld %ld", label, ok, to, errs);
  else printf("%s", label);
  if (s->n == 0) {
    printf(" 0 0 0\n");
    return;
  }
  qsort(s->v, (size_t)s->n, sizeof s->v[0], cmp_i64);
  printf(" %lld %lld %lld\n", (long long)s->v[s->n / 2], (long long)s->v[(s->n * 99) / 100],
         (long long)s->v[s->n - 1]);
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s URI DB KEY THREADS SECONDS TIMEOUT_S OTHER\n", argv[0]);
    return 64;
  }
  int nthreads = atoi(argv[4]), other = atoi(argv[7]) != 0;
  double secs = atof(argv[5]), timeout = atof(argv[6]);
  me_client *client = NULL;
  ME_CHECK(me_client_new(argv[1], &client, &err));
  me_locker_options lo;
  me_locker_options_init(&lo);
  me_locker *shared = NULL, *own = NULL;
  ME_CHECK(me_locker_new(client, argv[2], argv[3], &lo, &shared, &err));
  char key2[512];
  snprintf(key2, sizeof key2, "%s-other", argv[3]);
  ME_CHECK(me_locker_new(client, argv[2], key2, &lo, &own, &err));
  int total = nthreads + other;
  worker *w = calloc((size_t)(total > 0 ? total : 1), sizeof *w);
  pthread_t *th = calloc((size_t)(total > 0 ? total : 1), sizeof *th);
  if (!w || !th) return 1;
  int64_t start = mono_ns(), end = start + (int64_t)(secs * 1e9);
  for (int i = 0; i < total; i++) {
    w[i].locker = i < nthreads ? shared : own;
    w[i].end = end;
    w[i].timeout = timeout;
    if (pthread_create(&th[i], NULL, run, &w[i]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  }
  for (int i = 0; i < total; i++) pthread_join(th[i], NULL);
  int64_t took = mono_ns() - start;
  series acq = {0}, rel = {0};
  long ok = 0, to = 0, errs = 0;
  for (int i = 0; i < nthreads; i++) {
    merge(&acq, &w[i].acq);
    merge(&rel, &w[i].rel);
    ok += w[i].ok;
    to += w[i].timeouts;
    errs += w[i].errors;
  }
  stats("shared", &acq, true, ok, to, errs);
  stats("release", &rel, false, 0, 0, 0);
  if (other) stats("other", &w[nthreads].acq, true, w[nthreads].ok, w[nthreads].timeouts, w[nthreads].errors);
  printf("secs %lld\n", (long long)took);
  fflush(stdout);
  /* A failed close is reported, not fatal: the loop's figures are already out. */
  me_locker *both[2] = {shared, own};
  for (int i = 0; i < 2; i++) {
    me_error *err = NULL;
    if (me_locker_close(both[i], &err) != ME_OK) printf("close-failed %s\n", me_error_message(err));
    me_error_free(err);
  }
  me_locker_free(shared);
  me_locker_free(own);
  me_client_free(client);
  return 0;
}
