/* Cross-language elector: see tests/README.md.
 * usage: me_elector URI DB KEY TTL_S RUN_S   (RUN_S 0: until SIGTERM/SIGINT) */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <unistd.h>

#include "common.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void emit(const char *what) {
  printf("%s c %ld %lld\n", what, (long)getpid(), (long long)mono_ns());
  fflush(stdout);
}

static void on_leader(void *user_data) {
  (void)user_data;
  emit("leader");
}

static void on_leader_loss(void *user_data) {
  (void)user_data;
  emit("loss");
}

/* With MONGOELECTOR_OBSERVE set (the demo): every leader change this elector
 * observes, and its counters at the end. */
static bool observe = false;

static void on_new_leader(void *user_data, const me_leader_info *leader) {
  (void)user_data;
  if (leader)
    printf("sees c %ld %lld %lld %lld\n", (long)getpid(), (long long)mono_ns(), (long long)leader->process_id,
           (long long)leader->fence);
  else
    printf("sees c %ld %lld none 0\n", (long)getpid(), (long long)mono_ns());
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s URI DB KEY TTL_S RUN_S\n", argv[0]);
    return 64;
  }
  struct sigaction sa;
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  me_client *client = NULL;
  ME_CHECK(me_client_new(argv[1], &client, &err));
  me_elector_options opts;
  me_elector_options_init(&opts);
  opts.ttl = atof(argv[4]);
  opts.on_leader = on_leader;
  opts.on_leader_loss = on_leader_loss;
  observe = getenv("MONGOELECTOR_OBSERVE") != NULL;
  if (observe) opts.on_new_leader = on_new_leader;
  me_elector *elector = NULL;
  ME_CHECK(me_elector_new(client, argv[2], argv[3], &opts, &elector, &err));
  ME_CHECK(me_elector_start(elector, false, &err));
  double run_s = atof(argv[5]);
  int64_t end = mono_ns() + (int64_t)(run_s * 1e9);
  while (!stop_requested && (run_s <= 0 || mono_ns() < end)) sleep_ms(20);
  ME_CHECK(me_elector_close(elector, &err)); /* stops, releases, fires the final on_leader_loss */
  me_stats st;
  if (observe && me_elector_stats(elector, &st))
    printf("stats c %ld terms %llu renewals %llu failed_renewals %llu losses %llu transitions %llu "
           "round_trips %llu max_round_trip_ms %.1f\n",
           (long)getpid(), (unsigned long long)st.acquisitions, (unsigned long long)st.renewals,
           (unsigned long long)st.failed_renewals, (unsigned long long)st.losses,
           (unsigned long long)st.leader_transitions, (unsigned long long)st.round_trips,
           st.max_round_trip * 1e3);
  me_elector_free(elector);
  me_client_free(client);
  return 0;
}
