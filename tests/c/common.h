/* Helpers shared by the C test programs. */
#ifndef ME_TEST_COMMON_H
#define ME_TEST_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mongoelector.h"

/* CLOCK_MONOTONIC in ns: comparable across processes on one machine. */
static inline int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Exits with the call's status name and message when it fails. `call` is written with `&err`
 * as its error out-parameter (declared here, freed here). */
#define ME_CHECK(call)                                                                   \
  do {                                                                                   \
    me_error *err = NULL;                                                                \
    me_status st_ = (call);                                                              \
    if (st_ != ME_OK) {                                                                  \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call,                \
              me_status_name((int)me_error_status(err)), me_error_message(err));         \
      me_error_free(err);                                                                \
      exit(2);                                                                           \
    }                                                                                    \
  } while (0)

#endif
