/* An elector that reports each poll cycle, for counting database commands per cycle.
 * usage: me_bench_load URI DB KEY TTL_S RUN_S
 * prints one line per cycle: "loop <mono_ns> <cycle> <is_leader 0|1>" */
#include "bench.h"

static me_elector *elector = NULL;
static long cycles = 0;

static void on_loop(void *u) {
  (void)u;
  bool leader = me_elector_is_leader(elector);
  printf("loop %lld %ld %d\n", (long long)mono_ns(), ++cycles, leader ? 1 : 0);
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s URI DB KEY TTL_S RUN_S\n", argv[0]);
    return 64;
  }
  me_client *client = NULL;
  ME_CHECK(me_client_new(argv[1], &client, &err));
  me_elector_options opts;
  me_elector_options_init(&opts);
  opts.ttl = atof(argv[4]);
  opts.on_loop = on_loop;
  ME_CHECK(me_elector_new(client, argv[2], argv[3], &opts, &elector, &err));
  ME_CHECK(me_elector_start(elector, false, &err));
  sleep_ns((int64_t)(atof(argv[5]) * 1e9));
  ME_CHECK(me_elector_close(elector, &err));
  me_elector_free(elector);
  me_client_free(client);
  return 0;
}
