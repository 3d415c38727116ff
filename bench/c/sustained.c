/* A sustained acquire+release loop on one key, as a user's worker would run it:
 * the locker's default options (collection "mongolocker", ttl 600, timeparanoid
 * on), a blocking acquire with a 5 s timeout (the lock is free) and a release,
 * each call timed on its own, for SECONDS.
 * usage: me_bench_sustained URI DB KEY SECONDS
 * prints: "pairs N SECS_NS"                       pairs done and the loop's length
 *         "acquire P50 P99 MAX SLOW32"            ns; SLOW32: median of the slowest 1/32
 *         "release P50 P99 MAX SLOW32"
 *         "pair P50 P99 MAX SLOW32"               acquire + release
 *         "cpu NS_PER_PAIR"                       the whole process, every thread */
#include "bench.h"

#define MAX_PAIRS 2000000

static void report(const char *label, int64_t *v, int n) {
  qsort(v, (size_t)n, sizeof v[0], cmp_i64);
  int slow = n / 32 > 0 ? n / 32 : 1;
  printf("%s %lld %lld %lld %lld\n", label, (long long)v[n / 2], (long long)v[(n * 99) / 100],
         (long long)v[n - 1], (long long)v[n - slow + slow / 2]);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s URI DB KEY SECONDS\n", argv[0]);
    return 64;
  }
  double secs = atof(argv[4]);
  me_client *client = NULL;
  ME_CHECK(me_client_new(argv[1], &client, &err));
  me_locker_options opts;
  me_locker_options_init(&opts);
  me_locker *locker = NULL;
  ME_CHECK(me_locker_new(client, argv[2], argv[3], &opts, &locker, &err));
  me_acquire_options ao;
  me_acquire_options_init(&ao);
  ao.blocking = true;
  ao.has_timeout = true;
  ao.timeout = 5.0;
  int64_t *acq = calloc(MAX_PAIRS, sizeof *acq), *rel = calloc(MAX_PAIRS, sizeof *rel),
          *pair = calloc(MAX_PAIRS, sizeof *pair);
  if (!acq || !rel || !pair) return 1;
  int n = 0;
  int64_t cpu0 = process_cpu_ns(), start = mono_ns(), end = start + (int64_t)(secs * 1e9), now = start;
  while (now < end && n < MAX_PAIRS) {
    int64_t t0 = mono_ns();
    ME_CHECK(me_locker_acquire(locker, &ao, &err));
    int64_t t1 = mono_ns();
    ME_CHECK(me_locker_release(locker, false, NULL, NULL, &err));
    now = mono_ns();
    acq[n] = t1 - t0;
    rel[n] = now - t1;
    pair[n] = now - t0;
    n++;
  }
  int64_t cpu = process_cpu_ns() - cpu0;
  if (n == 0) return 3;
  printf("pairs %d %lld\n", n, (long long)(now - start));
  report("acquire", acq, n);
  report("release", rel, n);
  report("pair", pair, n);
  printf("cpu %lld\n", (long long)(cpu / n));
  free(acq);
  free(rel);
  free(pair);
  ME_CHECK(me_locker_close(locker, &err));
  me_locker_free(locker);
  me_client_free(client);
  return 0;
}
