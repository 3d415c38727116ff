// Package monoclock reads CLOCK_MONOTONIC, the clock the cross-language test
// programs of every binding log, so their timestamps compare.
package monoclock

/*
#include <time.h>
#include <stdint.h>

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}
*/
import "C"

// Now is CLOCK_MONOTONIC in nanoseconds.
func Now() int64 { return int64(C.mono_ns()) }
