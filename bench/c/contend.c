/* One of several processes looping acquire/release on one key.
 * usage: me_bench_contend URI DB KEY START_MONO_NS SECONDS STEP_S
 * Waits until START_MONO_NS (CLOCK_MONOTONIC), then for SECONDS: blocking
 * me_locker_acquire (timeout: the window's end, retry every STEP_S), release.
 * prints: "acquisitions N" */
#include "bench.h"

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s URI DB KEY START_MONO_NS SECONDS STEP_S\n", argv[0]);
    return 64;
  }
  int64_t start = atoll(argv[4]);
  int64_t end = start + (int64_t)(atof(argv[5]) * 1e9);
  double step = atof(argv[6]);
  me_client *client = NULL;
  ME_CHECK(me_client_new(argv[1], &client, &err));
  me_locker_options opts;
  me_locker_options_init(&opts);
  opts.ttl = 10;
  me_locker *locker = NULL;
  ME_CHECK(me_locker_new(client, argv[2], argv[3], &opts, &locker, &err));
  bool owned = false;
  ME_CHECK(me_locker_owned(locker, NULL, &owned, &err)); /* connect and read once before the start */
  sleep_ns(start - mono_ns());
  long n = 0;
  for (;;) {
    double left = (double)(end - mono_ns()) / 1e9;
    if (left <= 0) break;
    me_acquire_options ao;
    me_acquire_options_init(&ao);
    ao.has_timeout = true;
    ao.timeout = left;
    ao.step = step;
    me_error *err = NULL;
    me_status st = me_locker_acquire(locker, &ao, &err);
    if (st == ME_ERR_ACQUIRE_TIMEOUT) {
      me_error_free(err);
      break;
    }
    if (st != ME_OK) {
      fprintf(stderr, "acquire: %s: %s\n", me_status_name((int)st), me_error_message(err));
      me_error_free(err);
      return 2;
    }
    n++;
    ME_CHECK(me_locker_release(locker, false, NULL, NULL, &err));
  }
  printf("acquisitions %ld\n", n);
  ME_CHECK(me_locker_close(locker, &err));
  me_locker_free(locker);
  me_client_free(client);
  return 0;
}
