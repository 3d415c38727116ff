/* Cross-language contender: see tests/README.md.
 * usage: me_contender URI DB KEY ITERATIONS HOLD_MS LOGFILE */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s URI DB KEY ITERATIONS HOLD_MS LOGFILE\n", argv[0]);
    return 64;
  }
  int iterations = atoi(argv[4]);
  long hold_ms = atol(argv[5]);
  int log = open(argv[6], O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (log < 0) {
    perror(argv[6]);
    return 1;
  }
  me_client *client = NULL;
  ME_CHECK(me_client_new(argv[1], &client, &err));
  me_locker_options opts;
  me_locker_options_init(&opts);
  opts.ttl = 10;
  me_locker *lock = NULL;
  ME_CHECK(me_locker_new(client, argv[2], argv[3], &opts, &lock, &err));
  me_acquire_options acq;
  me_acquire_options_init(&acq); /* blocking, no timeout, step 0.25 s */
  for (int i = 0; i < iterations; i++) {
    ME_CHECK(me_locker_acquire(lock, &acq, &err));
    int64_t start = mono_ns();
    sleep_ms(hold_ms);
    int64_t end = mono_ns();
    int64_t fence = me_locker_fence(lock);
    ME_CHECK(me_locker_release(lock, false, NULL, NULL, &err));
    char line[160];
    int n = snprintf(line, sizeof line, "c %ld %lld %lld %lld\n", (long)getpid(), (long long)fence,
                     (long long)start, (long long)end);
    if (write(log, line, (size_t)n) != n) {
      perror("write");
      return 1;
    }
  }
  close(log);
  ME_CHECK(me_locker_close(lock, &err));
  me_locker_free(lock);
  me_client_free(client);
  return 0;
}
