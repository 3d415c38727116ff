/* me_set_log_callback: messages arrive with level and user_data, max_level filters (and is
 * clamped), messages from the elector's thread arrive too, NULL restores the default (warnings
 * and errors to stderr). */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>

#include "testlib.h"

struct sink {
  pthread_mutex_t mu;
  int count, by_level[6], bad_level, bad_user_data, from_other_thread, stop_warnings;
  pthread_t main_thread;
  char last[512];
};

static struct sink sink = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, 0, 0, 0, 0, 0, ""};

static void on_log(void *ud, int level, const char *msg) {
  pthread_mutex_lock(&sink.mu);
  sink.count++;
  if (ud != &sink) sink.bad_user_data++;
  if (level < 1 || level > 5) sink.bad_level++;
  else sink.by_level[level]++;
  if (!pthread_equal(pthread_self(), sink.main_thread)) sink.from_other_thread++;
  snprintf(sink.last, sizeof sink.last, "%s", msg ? msg : "(null)");
  if (msg && strstr(msg, "stopping elector")) sink.stop_warnings++;
  pthread_mutex_unlock(&sink.mu);
}

static int count(void) {
  pthread_mutex_lock(&sink.mu);
  int n = sink.count;
  pthread_mutex_unlock(&sink.mu);
  return n;
}

/* Messages that came from a thread other than main's (the elector thread writes it meanwhile). */
static int from_other_thread(void) {
  pthread_mutex_lock(&sink.mu);
  int n = sink.from_other_thread;
  pthread_mutex_unlock(&sink.mu);
  return n;
}

static me_client *client;
static char db[64];

/* Logs one warning: me_locker_free on an elector's borrowed locker is ignored with a warning. */
static void make_warning(me_elector *e) { me_locker_free((me_locker *)me_elector_locker(e)); }

int main(void) {
  test_begin("test_log");
  sink.main_thread = pthread_self();
  REQUIRE_OK(me_client_new(t_uri, &client, &err));
  warm_up(client);
  rand_name(db, sizeof db, "ctest_log");
  me_elector *e = NULL;
  REQUIRE_OK(me_elector_new(client, db, "logkey", NULL, &e, &err));

  section("a callback at level 5 receives messages with level and user_data");
  me_set_log_callback(on_log, 5, &sink);
  make_warning(e);
  CHECK(count() == 1, "one message for one warning (got %d)", count());
  CHECK(sink.by_level[2] == 1, "it has level 2 (warning)");
  CHECK(strstr(sink.last, "ignored") != NULL, "its text: \"%s\"", sink.last);
  CHECK(sink.bad_user_data == 0, "user_data passed through");

  section("max_level filters");
  me_set_log_callback(on_log, 1, &sink);
  make_warning(e);
  CHECK(count() == 1, "max_level 1 (errors): the warning is not delivered (count %d)", count());
  me_set_log_callback(on_log, -7, &sink);
  make_warning(e);
  CHECK(count() == 1, "max_level -7 is clamped to 1: not delivered (count %d)", count());
  me_set_log_callback(on_log, 2, &sink);
  make_warning(e);
  CHECK(count() == 2, "max_level 2: delivered (count %d)", count());
  me_set_log_callback(on_log, 1000, &sink);
  make_warning(e);
  CHECK(count() == 3, "max_level 1000 is clamped to 5: delivered (count %d)", count());

  section("messages from the elector's own thread");
  me_client *bad = NULL;
  REQUIRE_OK(me_client_new("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&directConnection=true", &bad, &err));
  me_elector *be = NULL;
  me_elector_options o;
  me_elector_options_init(&o);
  o.ttl = 1;
  REQUIRE_OK(me_elector_new(bad, "ctest_log", "k", &o, &be, &err));
  int before = count();
  REQUIRE_OK(me_elector_start(be, false, &err));
  int64_t t0 = mono_ns();
  while (from_other_thread() == 0 && elapsed_s(t0) < 15) sleep_ms(20);
  me_status st = me_elector_stop(be, NULL);
  CHECK(st == ME_ERR_DATABASE, "me_elector_stop with the server unreachable -> %s", me_status_name((int)st));
  pthread_mutex_lock(&sink.mu);
  sink.stop_warnings = 0;
  pthread_mutex_unlock(&sink.mu);
  int64_t t1 = mono_ns();
  me_elector_free(be);
  double free_took = elapsed_s(t1);
  CHECK(sink.stop_warnings == 0,
                  "me_elector_free of a stopped elector sends no second release (%d failed-stop warnings, %.2f s)",
                  sink.stop_warnings, free_took);
  me_client_free(bad);
  CHECK(from_other_thread() > 0, "a failing elector's warnings arrive from its thread (%d messages, last \"%.200s\")",
        count() - before, sink.last);
  CHECK(sink.bad_level == 0 && sink.bad_user_data == 0, "levels within 1..5 and user_data intact");

  section("NULL restores the default: warnings to stderr");
  me_set_log_callback(NULL, 5, NULL);
  char path[] = "/tmp/me_log_stderr_XXXXXX";
  int fd = mkstemp(path);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  int n0 = count();
  make_warning(e);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  char buf[1024] = "";
  lseek(fd, 0, SEEK_SET);
  ssize_t got = read(fd, buf, sizeof buf - 1);
  buf[got > 0 ? got : 0] = '\0';
  close(fd);
  unlink(path);
  CHECK(count() == n0, "the callback is no longer called (count %d -> %d)", n0, count());
  CHECK(strstr(buf, "ignored") != NULL, "the warning went to stderr: \"%.200s\"", buf);
  EXPECT_ST(me_elector_close(e, &err), ME_OK);
  me_elector_free(e);
  me_client_free(client);
  return test_end();
}
