/* Uncontended me_locker_acquire()+me_locker_release() pairs through the C ABI.
 * usage: me_bench_pairs URI DB KEY PAIRS WARMUP TIMEPARANOID(0|1)
 * prints: "pairs N median_ns mean_ns p90_ns cpu_ns_per_pair" (one pair = acquire +
 * release; CPU time of the whole process over the timed pairs, every thread) */
#include "bench.h"

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s URI DB KEY PAIRS WARMUP TIMEPARANOID\n", argv[0]);
    return 64;
  }
  int pairs = atoi(argv[4]), warmup = atoi(argv[5]);
  me_client *client = NULL;
  ME_CHECK(me_client_new(argv[1], &client, &err));
  me_locker_options opts;
  me_locker_options_init(&opts);
  opts.ttl = 60;
  opts.timeparanoid = atoi(argv[6]) != 0;
  me_locker *locker = NULL;
  ME_CHECK(me_locker_new(client, argv[2], argv[3], &opts, &locker, &err));
  int64_t *t = calloc((size_t)pairs, sizeof *t);
  if (!t) return 1;
  int64_t cpu0 = 0;
  me_acquire_options ao;
  me_acquire_options_init(&ao);
  ao.blocking = false; /* one attempt: the lock is free */
  for (int i = 0; i < warmup + pairs; i++) {
    if (i == warmup) cpu0 = process_cpu_ns();
    int64_t t0 = mono_ns();
    ME_CHECK(me_locker_acquire(locker, &ao, &err));
    ME_CHECK(me_locker_release(locker, false, NULL, NULL, &err));
    if (i >= warmup) t[i - warmup] = mono_ns() - t0;
  }
  int64_t cpu = process_cpu_ns() - cpu0;
  print_stats("pairs", t, pairs);
  printf("cpu %lld\n", (long long)(cpu / pairs));
  free(t);
  ME_CHECK(me_locker_close(locker, &err));
  me_locker_free(locker);
  me_client_free(client);
  return 0;
}
