/* Checks a contender log (lines "<lang> <pid> <fence> <start_ns> <end_ns>"):
 * the expected number of lines, well-formed, holdings never overlap in time, and fences
 * strictly increase in holding order.
 * usage: check_intervals LOGFILE EXPECTED_LINES   (exit 0 when all hold) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct holding {
  char lang[16];
  long pid;
  long long fence, start, end;
};

static int by_start(const void *a, const void *b) {
  const struct holding *x = a, *y = b;
  return (x->start > y->start) - (x->start < y->start);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s LOGFILE EXPECTED_LINES\n", argv[0]);
    return 64;
  }
  FILE *f = fopen(argv[1], "r");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  long expected = atol(argv[2]);
  size_t cap = 64, n = 0;
  struct holding *h = malloc(cap * sizeof *h);
  char line[256];
  int bad = 0;
  while (fgets(line, sizeof line, f)) {
    if (n == cap) h = realloc(h, (cap *= 2) * sizeof *h);
    struct holding *x = &h[n];
    if (sscanf(line, "%15s %ld %lld %lld %lld", x->lang, &x->pid, &x->fence, &x->start, &x->end) != 5 ||
        x->fence <= 0 || x->end < x->start) {
      printf("FAIL malformed line %zu: %s", n + 1, line);
      bad++;
      continue;
    }
    n++;
  }
  fclose(f);
  if ((long)n != expected) {
    printf("FAIL %zu holdings logged, expected %ld\n", n, expected);
    bad++;
  }
  qsort(h, n, sizeof *h, by_start);
  int overlaps = 0, order = 0;
  for (size_t i = 1; i < n; i++) {
    if (h[i].start < h[i - 1].end) {
      overlaps++;
      printf("FAIL overlap: %s pid %ld fence %lld [%lld, %lld] starts before %s pid %ld fence %lld ends at %lld\n",
             h[i].lang, h[i].pid, h[i].fence, h[i].start, h[i].end, h[i - 1].lang, h[i - 1].pid, h[i - 1].fence,
             h[i - 1].end);
    }
    if (h[i].fence <= h[i - 1].fence) {
      order++;
      printf("FAIL fence order: fence %lld (pid %ld) follows fence %lld (pid %ld)\n", h[i].fence, h[i].pid,
             h[i - 1].fence, h[i - 1].pid);
    }
  }
  long pids[64];
  int npids = 0;
  for (size_t i = 0; i < n; i++) {
    int seen = 0;
    for (int k = 0; k < npids; k++) seen |= pids[k] == h[i].pid;
    if (!seen && npids < 64) pids[npids++] = h[i].pid;
  }
  printf("%zu holdings by %d processes, %d overlaps, %d fence-order violations, fences %lld..%lld\n", n, npids,
         overlaps, order, n ? h[0].fence : 0, n ? h[n - 1].fence : 0);
  free(h);
  return bad || overlaps || order ? 1 : 0;
}
