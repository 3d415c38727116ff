/* mongoelector quick start: a lock, then a leader election.
 * Build: cc -std=c99 quickstart.c $(pkg-config --cflags --libs mongoelector) -o quickstart
 * Run:   ./quickstart "mongodb://localhost:27017" */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mongoelector.h>

/* Prints a failed call's status and message (from its me_error), and exits. */
static void check(me_status st, me_error *err, const char *what) {
  if (st != ME_OK) {
    fprintf(stderr, "%s: %s: %s\n", what, me_status_name(me_error_status(err)), me_error_message(err));
    me_error_free(err);
    exit(1);
  }
}

static void on_leader(void *user_data) { printf("%s: I am the leader\n", (const char *)user_data); }
static void on_leader_loss(void *user_data) { printf("%s: no longer the leader\n", (const char *)user_data); }

int main(int argc, char **argv) {
  const char *uri = argc > 1 ? argv[1] : "mongodb://localhost:27017";
  me_error *err = NULL;
  me_client *client;
  check(me_client_new(uri, &client, &err), err, "connect");

  /* 1. A distributed lock: held by at most one process at a time. */
  me_locker_options lopts;
  me_locker_options_init(&lopts);
  lopts.ttl = 60; /* seconds; the lock expires if we die holding it */
  me_locker *lock;
  check(me_locker_new(client, "quickstart", "nightly-report", &lopts, &lock, &err), err, "locker");
  me_acquire_options aopts;
  me_acquire_options_init(&aopts); /* blocking, retry every 0.25 s */
  aopts.has_timeout = true;
  aopts.timeout = 10.0; /* seconds, round trips included */
  check(me_locker_acquire(lock, &aopts, &err), err, "acquire");
  printf("lock held, fencing token %lld\n", (long long)me_locker_fence(lock));
  /* ... do the exclusive work, passing the fencing token to storage ... */
  check(me_locker_release(lock, false, NULL, NULL, &err), err, "release");
  check(me_locker_close(lock, &err), err, "close");
  me_locker_free(lock);

  /* 2. Leader election: one elector of the group "scheduler" leads at a time. */
  me_elector_options eopts;
  me_elector_options_init(&eopts);
  eopts.ttl = 5; /* leader lease, seconds */
  eopts.on_leader = on_leader;
  eopts.on_leader_loss = on_leader_loss;
  eopts.user_data = "node-1";
  me_elector *elector;
  check(me_elector_new(client, "quickstart", "scheduler", &eopts, &elector, &err), err, "elector");
  check(me_elector_start(elector, false, &err), err, "start"); /* runs on its own thread */
  struct timespec two_s = {2, 0};
  nanosleep(&two_s, NULL);
  printf("leading: %s\n", me_elector_is_leader(elector) ? "yes" : "no");
  /* close stops the elector and releases leadership; on_leader_loss fires before it returns */
  check(me_elector_close(elector, &err), err, "close");
  me_elector_free(elector);
  me_client_free(client);
  return 0;
}
