/* mongoelector quick start: a lock, then a leader election.
 * Build: cc -std=c99 quickstart.c $(pkg-config --cflags --libs mongoelector) -o quickstart
 * Run:   ./quickstart "mongodb://localhost:27017" */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mongoelector.h>

/* Prints the failed call's status and message, and exits. */
static void check(me_status st, const char *what) {
  if (st != ME_OK) {
    fprintf(stderr, "%s: %s: %s\n", what, me_status_name(st), me_last_error_message());
    exit(1);
  }
}

static void on_leader(void *user_data) { printf("%s: I am the leader\n", (const char *)user_data); }
static void on_leader_loss(void *user_data) { printf("%s: no longer the leader\n", (const char *)user_data); }

int main(int argc, char **argv) {
  const char *uri = argc > 1 ? argv[1] : "mongodb://localhost:27017";
  me_client *client;
  check(me_client_new(uri, &client), "connect");

  /* 1. A distributed lock: held by at most one process at a time. */
  me_locker_options lopts;
  me_locker_options_init(&lopts);
  lopts.ttl = 60; /* seconds; the lock expires if we die holding it */
  me_locker *lock;
  check(me_locker_new(client, "quickstart", "nightly-report", &lopts, &lock), "locker");
  check(me_acquire(lock, true, 10.0 /* timeout, s */, 0.25 /* retry step, s */, false), "acquire");
  printf("lock held, fencing token %lld\n", (long long)me_locker_fence(lock));
  /* ... do the exclusive work, passing the fencing token to storage ... */
  check(me_release(lock, false), "release");
  me_locker_free(lock);

  /* 2. Leader election: one elector of the group "scheduler" leads at a time. */
  me_elector_options eopts;
  me_elector_options_init(&eopts);
  eopts.ttl = 5; /* leader lease, seconds */
  eopts.on_leader = on_leader;
  eopts.on_leader_loss = on_leader_loss;
  eopts.user_data = "node-1";
  me_elector *elector;
  check(me_elector_new(client, "quickstart", "scheduler", &eopts, &elector), "elector");
  check(me_elector_start(elector, false), "start"); /* runs on its own thread */
  struct timespec two_s = {2, 0};
  nanosleep(&two_s, NULL);
  bool leader = false;
  check(me_elector_is_leader(elector, &leader), "is_leader");
  printf("leading: %s\n", leader ? "yes" : "no");
  check(me_elector_stop(elector), "stop"); /* releases leadership; on_leader_loss fires */
  me_elector_free(elector);
  me_client_free(client);
  return 0;
}
