/* Threads and resident memory of a C process using the library.
 * usage: me_bench_footprint URI DB KEYPREFIX LOCKERS
 * (the lockers use the default lock collection, "mongolocker")
 * prints: "bare T RSS_KIB" before any me_* call,
 *         "elector T RSS_KIB" with one client and one running elector (after it led),
 *         "lockers N T RSS_KIB NS" after N lockers on N keys each acquired once
 *         (NS: how long creating and acquiring them took). */
#include "bench.h"

#include <unistd.h>

static volatile int led = 0;
static void on_leader(void *u) {
  (void)u;
  led = 1;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s URI DB KEYPREFIX LOCKERS\n", argv[0]);
    return 64;
  }
  long th, rss;
  self_footprint(&th, &rss);
  printf("bare %ld %ld\n", th, rss);
  int n = atoi(argv[4]);
  me_client *client = NULL;
  ME_CHECK(me_client_new(argv[1], &client, &err));
  me_elector_options eo;
  me_elector_options_init(&eo);
  eo.ttl = 4;
  eo.on_leader = on_leader;
  char key[256];
  snprintf(key, sizeof key, "%s-elector", argv[3]);
  me_elector *elector = NULL;
  ME_CHECK(me_elector_new(client, argv[2], key, &eo, &elector, &err));
  ME_CHECK(me_elector_start(elector, false, &err));
  int64_t until = mono_ns() + 20000000000LL;
  while (!led && mono_ns() < until) sleep_ns(10000000);
  sleep_ns(2000000000LL); /* a few poll cycles in steady state */
  self_footprint(&th, &rss);
  printf("elector %ld %ld %d\n", th, rss, led);
  fflush(stdout);
  me_locker **lockers = calloc((size_t)n, sizeof *lockers);
  if (!lockers) return 1;
  me_locker_options lo;
  me_locker_options_init(&lo);
  lo.ttl = 300;
  int64_t t_lockers = mono_ns();
  me_acquire_options ao;
  me_acquire_options_init(&ao);
  ao.blocking = false;
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof key, "%s-%d", argv[3], i);
    ME_CHECK(me_locker_new(client, argv[2], key, &lo, &lockers[i], &err));
    ME_CHECK(me_locker_acquire(lockers[i], &ao, &err));
  }
  int64_t took = mono_ns() - t_lockers;
  sleep_ns(1000000000LL);
  self_footprint(&th, &rss);
  printf("lockers %d %ld %ld %lld\n", n, th, rss, (long long)took);
  fflush(stdout);
  /* Exit without closing the lockers: each close would release its lock (a read
   * and an insert), which is not what is measured. Their database is thrown away. */
  ME_CHECK(me_elector_close(elector, &err));
  me_elector_free(elector);
  _exit(0);
}
