/* Helpers shared by the C benchmark programs. */
#ifndef ME_BENCH_H
#define ME_BENCH_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mongoelector.h"

static inline int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void sleep_ns(int64_t ns) {
  if (ns <= 0) return;
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  nanosleep(&ts, NULL);
}

/* Exits with the status and message of a failed call; `call` is written with `&err` as its
 * error out-parameter (declared and freed here). */
#define ME_CHECK(call)                                                                   \
  do {                                                                                   \
    me_error *err = NULL;                                                                \
    me_status st_ = (call);                                                              \
    if (st_ != ME_OK) {                                                                  \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call,                \
              me_status_name((int)st_), me_error_message(err));                          \
      me_error_free(err);                                                                \
      exit(2);                                                                           \
    }                                                                                    \
  } while (0)

/* Reads "Threads:" and "VmRSS:" (KiB) from /proc/self/status. */
static inline void self_footprint(long *threads, long *rss_kib) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  *threads = -1;
  *rss_kib = -1;
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "Threads:", 8) == 0) *threads = strtol(line + 8, NULL, 10);
    if (strncmp(line, "VmRSS:", 6) == 0) *rss_kib = strtol(line + 6, NULL, 10);
  }
  fclose(f);
}

/* CPU time of the whole process so far (every thread), in ns, from
 * /proc/self/task/<tid>/schedstat (first field). */
#include <dirent.h>
static inline int64_t process_cpu_ns(void) {
  int64_t sum = 0;
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  if (!d) return -1;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
    FILE *f = fopen(path, "r");
    long long ns = 0;
    if (f) {
      if (fscanf(f, "%lld", &ns) == 1) sum += ns;
      fclose(f);
    }
  }
  closedir(d);
  return sum;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Sorts v and prints "median_ns mean_ns p90_ns". */
static inline void print_stats(const char *label, int64_t *v, int n) {
  double sum = 0;
  for (int i = 0; i < n; i++) sum += (double)v[i];
  qsort(v, (size_t)n, sizeof v[0], cmp_i64);
  printf("%s %d %lld %.0f %lld\n", label, n, (long long)v[n / 2], sum / n,
         (long long)v[(n * 9) / 10]);
}

#endif
