/* Observing an election (issue 16) and the elector's term token (issue 15), through the C ABI:
 *  - the term token: NULL when not leading, its fence the term's, uncancelled while renewed,
 *    cancelled by me_elector_release and by me_elector_stop;
 *  - on_new_leader on three electors over a stop, a free without close (as a SIGKILL:
 *    me_elector_free of the leader) and a restart: the survivor sees every term (uuid+fence)
 *    as the electors' own on_leader recorded them, the freed one every term until it died,
 *    the restarted one the first and the current; none sees a leader that never held the
 *    lock; me_elector_leader from memory matches the last seen and the lock;
 *  - a frozen server (a private one, SIGSTOP): the term token is cancelled before the lease
 *    ends, me_elector_healthy turns false on the leader, and true again after SIGCONT;
 *    "not running" before start and after stop;
 *  - me_elector_stats: one term, two transitions, renewals.
 * The whole program is bounded by alarm() (server.h: a hang kills the private server too). */
#define _POSIX_C_SOURCE 200809L

#include "server.h"

static me_client *client;
static char db[64];
static bool memcheck;
static double TTL = 1.0;

static void close_free(me_elector *e) {
  EXPECT_ST(me_elector_close(e, &err), ME_OK);
  me_elector_free(e);
}

static bool wait_leader(me_elector *e, double secs) {
  int64_t end = mono_ns() + (int64_t)(secs * 1e9);
  while (!me_elector_is_leader(e) && mono_ns() < end) sleep_ms(10);
  return me_elector_is_leader(e);
}

/* ---- the term token ---- */

static void term_token(void) {
  section("the term token: the term's fence, cancelled by release and by stop");
  char key[64];
  rand_name(key, sizeof key, "term");
  me_elector_options o;
  me_elector_options_init(&o);
  o.ttl = TTL;
  me_elector *e = NULL;
  REQUIRE_OK(me_elector_new(client, db, key, &o, &e, &err));
  int64_t fence = -1;
  CHECK(me_elector_term_token(e, &fence) == NULL && fence == -1, "NULL before start (no fence written)");
  CHECK(me_elector_term_token(NULL, NULL) == NULL, "NULL for NULL");
  EXPECT_ST(me_elector_start(e, false, &err), ME_OK);
  CHECK(wait_leader(e, 10), "leads");
  me_cancel *t1 = me_elector_term_token(e, &fence);
  int64_t f1 = me_locker_fence(me_elector_locker(e));
  CHECK(t1 != NULL && fence == f1 && f1 > 0, "a term token with the term's fence (%lld, the lock's %lld)",
        (long long)fence, (long long)f1);
  sleep_ms((long)(TTL * 2000));
  CHECK(!me_cancel_is_cancelled(t1) && me_elector_is_leader(e), "renewals keep the term over 2 ttl");
  EXPECT_ST(me_elector_release(e, &err), ME_OK);
  CHECK(me_cancel_is_cancelled(t1), "cancelled when me_elector_release returns");
  CHECK(wait_leader(e, 10), "leads again (alone in its group)");
  me_cancel *t2 = me_elector_term_token(e, &fence);
  CHECK(t2 != NULL && !me_cancel_is_cancelled(t2) && fence > f1, "a new term, a new token (fence %lld > %lld)",
        (long long)fence, (long long)f1);
  EXPECT_ST(me_elector_stop(e, &err), ME_OK);
  CHECK(me_cancel_is_cancelled(t2), "cancelled when me_elector_stop returns");
  CHECK(me_elector_term_token(e, NULL) == NULL, "NULL after stop");

  /* counters of that elector: two terms, four transitions, no losses (both ended by us) */
  me_stats s;
  memset(&s, 0xff, sizeof s);
  bool got = me_elector_stats(e, &s);
  CHECK(got && s.acquisitions == 2 && s.leader_transitions == 4 && s.losses == 0 && s.renewals >= 2,
        "me_elector_stats: %llu terms, %llu transitions, %llu losses, %llu renewals", (unsigned long long)s.acquisitions,
        (unsigned long long)s.leader_transitions, (unsigned long long)s.losses, (unsigned long long)s.renewals);
  CHECK(s.round_trips > 0 && s.max_round_trip >= s.last_round_trip && s.lease_left == 0.0,
        "%llu round trips, max %.4f s, lease_left %g after stop", (unsigned long long)s.round_trips, s.max_round_trip,
        s.lease_left);
  CHECK(!me_elector_stats(NULL, &s) && !me_elector_stats(e, NULL), "false for NULL arguments");
  me_cancel_free(t1);
  me_cancel_free(t2);
  close_free(e);
}

/* ---- three observers ---- */

#define MAX_SEEN 64

struct seen {
  bool has; /* false: "no leader" */
  char uuid[64];
  int64_t fence;
};

struct observer {
  pthread_mutex_t mu;
  me_elector *e;
  struct seen seen[MAX_SEEN];
  int n, bad_user_data;
  int freed;
};

/* The terms the electors won, as their own on_leader saw them (the lock's heads). */
static pthread_mutex_t terms_mu = PTHREAD_MUTEX_INITIALIZER;
static struct seen terms[MAX_SEEN];
static int nterms;

static void on_new_leader(void *ud, const me_leader_info *l) {
  struct observer *o = ud;
  pthread_mutex_lock(&o->mu);
  if (o->n < MAX_SEEN) {
    struct seen *s = &o->seen[o->n++];
    s->has = l != NULL;
    if (l) {
      snprintf(s->uuid, sizeof s->uuid, "%s", l->uuid);
      s->fence = l->fence;
    }
  }
  pthread_mutex_unlock(&o->mu);
}

static void on_leader(void *ud) {
  struct observer *o = ud;
  const me_locker *view = me_elector_locker(o->e);
  pthread_mutex_lock(&terms_mu);
  if (nterms < MAX_SEEN) {
    struct seen *s = &terms[nterms++];
    s->has = true;
    snprintf(s->uuid, sizeof s->uuid, "%s", me_locker_uuid(view));
    s->fence = me_locker_fence(view);
  }
  pthread_mutex_unlock(&terms_mu);
}

static void on_free(void *ud) {
  struct observer *o = ud;
  __atomic_add_fetch(&o->freed, 1, __ATOMIC_SEQ_CST);
}

static bool same(const struct seen *a, const struct seen *b) {
  return a->has == b->has && (!a->has || (a->fence == b->fence && strcmp(a->uuid, b->uuid) == 0));
}

/* The leaders in `in` without "no leader" entries and repeats, into `out`; returns the count. */
static int leaders(const struct seen *in, int n, struct seen *out) {
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (!in[i].has) continue;
    if (k > 0 && same(&out[k - 1], &in[i])) continue;
    out[k++] = in[i];
  }
  return k;
}

static int seen_by(struct observer *o, struct seen *out) {
  pthread_mutex_lock(&o->mu);
  int k = leaders(o->seen, o->n, out);
  pthread_mutex_unlock(&o->mu);
  return k;
}

static void describe(const struct seen *s, int n, char *buf, size_t len) {
  size_t at = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && at + 24 < len; i++)
    at += (size_t)snprintf(buf + at, len - at, "%s%.8s/%lld", i ? " " : "", s[i].uuid, (long long)s[i].fence);
}

static bool prefix_of(const struct seen *a, int na, const struct seen *b, int nb) {
  if (na > nb) return false;
  for (int i = 0; i < na; i++)
    if (!same(&a[i], &b[i])) return false;
  return true;
}

static int leader_of(me_elector **es, int n) {
  for (int i = 0; i < n; i++)
    if (es[i] && me_elector_is_leader(es[i])) return i;
  return -1;
}

static int wait_leader_of(me_elector **es, int n, double secs) {
  int64_t end = mono_ns() + (int64_t)(secs * 1e9);
  int i;
  while ((i = leader_of(es, n)) < 0 && mono_ns() < end) sleep_ms(10);
  return i;
}

static void observers(void) {
  section("on_new_leader on three electors: a stop, a free without close (SIGKILL), a restart");
  char key[64];
  rand_name(key, sizeof key, "observe");
  static struct observer obs[3];
  me_elector *es[3];
  for (int i = 0; i < 3; i++) {
    memset(&obs[i], 0, sizeof obs[i]);
    pthread_mutex_init(&obs[i].mu, NULL);
    me_elector_options o;
    me_elector_options_init(&o);
    o.ttl = TTL;
    o.on_new_leader = on_new_leader;
    o.on_leader = on_leader;
    o.user_data = &obs[i];
    o.user_data_free = on_free;
    REQUIRE_OK(me_elector_new(client, db, key, &o, &es[i], &err));
    obs[i].e = es[i];
  }
  me_leader_info *info = (me_leader_info *)&obs[0];
  int64_t at = -1;
  EXPECT_ST(me_elector_leader(es[0], &info, &at, &err), ME_OK);
  CHECK(info == NULL && at == 0, "me_elector_leader before start: none observed (observed_ms %lld)", (long long)at);
  EXPECT_ST(me_elector_leader(NULL, &info, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  EXPECT_ST(me_elector_leader(es[0], NULL, NULL, &err), ME_ERR_INVALID_ARGUMENT);
  for (int i = 0; i < 3; i++) EXPECT_ST(me_elector_start(es[i], false, &err), ME_OK);
  int first = wait_leader_of(es, 3, 10);
  CHECK(first >= 0, "a leader");
  if (first < 0) goto out;
  sleep_ms((long)(TTL * 1000));
  first = leader_of(es, 3);
  if (first < 0) first = wait_leader_of(es, 3, 5);
  /* a graceful stop of the first leader */
  EXPECT_ST(me_elector_stop(es[first], &err), ME_OK);
  me_elector *rest[2];
  int ri[2], k = 0;
  for (int i = 0; i < 3; i++)
    if (i != first) {
      ri[k] = i;
      rest[k++] = es[i];
    }
  int second = wait_leader_of(rest, 2, 10);
  CHECK(second >= 0, "a second leader after the stop");
  if (second < 0) goto out;
  sleep_ms((long)(TTL * 1000));
  second = leader_of(rest, 2);
  if (second < 0) second = wait_leader_of(rest, 2, 5);
  /* the second leader dies without a word: freed without close (as SIGKILL: no release) */
  int dead = ri[second], surv = ri[1 - second];
  me_elector_free(es[dead]);
  es[dead] = NULL;
  CHECK(__atomic_load_n(&obs[dead].freed, __ATOMIC_SEQ_CST) == 1, "the freed one's user_data_free ran in free");
  CHECK(wait_leader(es[surv], TTL * 6), "the survivor leads once the dead one's lease lapsed");
  sleep_ms((long)(TTL * 1000));
  /* the first one comes back and follows */
  EXPECT_ST(me_elector_start(es[first], false, &err), ME_OK);
  sleep_ms((long)(TTL * 1000));
  CHECK(me_elector_is_leader(es[surv]) && !me_elector_is_leader(es[first]), "the survivor leads, the restarted follows");

  struct seen truth[MAX_SEEN], s_surv[MAX_SEEN], s_dead[MAX_SEEN], s_first[MAX_SEEN];
  pthread_mutex_lock(&terms_mu);
  int nt = leaders(terms, nterms, truth);
  pthread_mutex_unlock(&terms_mu);
  int ns = seen_by(&obs[surv], s_surv), nd = seen_by(&obs[dead], s_dead), nf = seen_by(&obs[first], s_first);
  char b1[512], b2[512];
  describe(truth, nt, b1, sizeof b1);
  CHECK(nt == 3, "three terms (uuid/fence): %s", b1);
  bool increasing = true;
  for (int i = 1; i < nt; i++)
    if (truth[i].fence <= truth[i - 1].fence) increasing = false;
  CHECK(increasing, "their fences increase");
  describe(s_surv, ns, b2, sizeof b2);
  CHECK(ns == nt && prefix_of(s_surv, ns, truth, nt), "the survivor saw every leader: %s", b2);
  describe(s_dead, nd, b2, sizeof b2);
  CHECK(nd == 2 && nt >= 2 && prefix_of(s_dead, nd, truth, nt), "the freed one saw the first two, until it died: %s", b2);
  describe(s_first, nf, b2, sizeof b2);
  CHECK(nf >= 2 && nt >= 1 && same(&s_first[0], &truth[0]) && same(&s_first[nf - 1], &truth[nt - 1]),
        "the restarted one saw the first leader, and after its restart the current one: %s", b2);
  int never = 0;
  for (int o = 0; o < 3; o++) {
    struct seen l[MAX_SEEN];
    int nl = seen_by(&obs[o], l);
    for (int i = 0; i < nl; i++) {
      bool found = false;
      for (int j = 0; j < nt; j++) found = found || same(&l[i], &truth[j]);
      if (!found) never++;
    }
  }
  CHECK(never == 0, "no elector saw a leader that never held the lock (%d)", never);

  /* the observed leader from memory: the last seen, and the lock's head */
  int alive[2] = {surv, first};
  for (int a = 0; a < 2; a++) {
    me_elector *e = es[alive[a]];
    info = NULL;
    at = 0;
    EXPECT_ST(me_elector_leader(e, &info, &at, &err), ME_OK);
    me_current_lock *cur = NULL;
    EXPECT_ST(me_locker_current(me_elector_locker(e), NULL, &cur, &err), ME_OK);
    int64_t now = wall_ms();
    CHECK(info && cur && strcmp(info->uuid, cur->uuid) == 0 && info->fence == cur->fence &&
              strcmp(info->host, cur->host) == 0 && info->process_id == cur->pid,
          "%s: me_elector_leader (%.8s/%lld) is the lock's head (%.8s/%lld)", a ? "restarted" : "survivor",
          info ? info->uuid : "none", info ? (long long)info->fence : 0LL, cur ? cur->uuid : "none",
          cur ? (long long)cur->fence : 0LL);
    CHECK(info && nt > 0 && strcmp(info->uuid, truth[nt - 1].uuid) == 0 && info->fence == truth[nt - 1].fence,
          "... and the last term");
    CHECK(at > 0 && at <= now && now - at < (int64_t)(TTL * 1000 * 2 + 2000), "observed %lld ms ago",
          (long long)(now - at));
    me_leader_info_free(info);
    me_current_lock_free(cur);
  }
out:
  for (int i = 0; i < 3; i++)
    if (es[i]) close_free(es[i]);
  for (int i = 0; i < 3; i++) {
    CHECK(obs[i].freed == 1, "user_data_free once (%d)", obs[i].freed);
    pthread_mutex_destroy(&obs[i].mu);
  }
}

/* ---- a frozen server: the term token and health ---- */

static void frozen_server(void) {
  section("a frozen server: the term token ends before the lease, healthy false, true after SIGCONT");
  struct pserver srv;
  if (!pserver_start(&srv)) return;
  me_client *c = NULL;
  REQUIRE_OK(me_client_new(srv.uri, &c, &err));
  double ttl = memcheck ? 4.0 : 2.0;
  me_elector_options o;
  me_elector_options_init(&o);
  o.ttl = ttl;
  me_elector *e = NULL;
  REQUIRE_OK(me_elector_new(c, "health", "svc", &o, &e, &err));
  const char *reason = NULL;
  bool h = me_elector_healthy(e, 0, &reason);
  CHECK(!h && reason && strcmp(reason, "not running") == 0, "before start: unhealthy, \"%s\"", reason ? reason : "?");
  CHECK(!me_elector_healthy(NULL, 0, NULL), "false for NULL");
  EXPECT_ST(me_elector_start(e, false, &err), ME_OK);
  CHECK(wait_leader(e, 20), "leads");
  h = me_elector_healthy(e, 0, &reason);
  CHECK(h && strcmp(reason, "leading") == 0, "healthy: \"%s\"", reason);
  int64_t fence = 0;
  me_cancel *term = me_elector_term_token(e, &fence);
  CHECK(term != NULL && fence > 0, "a term token");
  int64_t frozen = mono_ns();
  pserver_freeze(&srv);
  bool ended = me_cancel_wait(term, 2 * ttl);
  double took = elapsed_s(frozen);
  CHECK(ended, "the term token was cancelled with the server frozen (%.3f s after the freeze)", took);
  CHECK(took < ttl, "... before the lease (ttl %.1f s) ends by the monotonic clock", ttl);
  CHECK(!me_elector_is_leader(e), "me_elector_is_leader false");
  int64_t end = mono_ns() + (int64_t)(2 * ttl * 1e9);
  while ((h = me_elector_healthy(e, 0, &reason)) && mono_ns() < end) sleep_ms(20);
  CHECK(!h && (strcmp(reason, "renewal overdue") == 0 || strcmp(reason, "polls failing or stuck") == 0),
        "unhealthy with the server frozen (%.3f s after the freeze): \"%s\"", elapsed_s(frozen), reason);
  pserver_thaw(&srv);
  end = mono_ns() + (int64_t)20e9;
  while (!(h = me_elector_healthy(e, 0, &reason)) && mono_ns() < end) sleep_ms(20);
  CHECK(h, "healthy again after SIGCONT: \"%s\"", reason);
  CHECK(wait_leader(e, 20), "leads again");
  h = me_elector_healthy(e, 0, &reason);
  CHECK(h && strcmp(reason, "leading") == 0, "\"%s\"", reason);
  me_stats s;
  memset(&s, 0, sizeof s);
  bool got = me_elector_stats(e, &s);
  CHECK(got && s.losses >= 1 && s.acquisitions >= 2, "stats: %llu losses, %llu terms, %llu failed renewals",
        (unsigned long long)s.losses, (unsigned long long)s.acquisitions, (unsigned long long)s.failed_renewals);
  EXPECT_ST(me_elector_stop(e, &err), ME_OK);
  h = me_elector_healthy(e, 0, &reason);
  CHECK(!h && strcmp(reason, "not running") == 0, "after stop: \"%s\"", reason);
  me_cancel_free(term);
  close_free(e);
  me_client_free(c);
  pserver_stop(&srv);
}

int main(void) {
  test_begin("test_observe");
  memcheck = getenv("ME_TEST_MEMCHECK") != NULL;
  /* under valgrind a slower elector thread needs a longer lease between its renewals */
  if (memcheck) TTL = 2.0;
  guard(memcheck ? 280 : 200);
  REQUIRE_OK(me_client_new(t_uri, &client, &err));
  warm_up(client);
  rand_name(db, sizeof db, "ctest_observe");
  term_token();
  observers();
  frozen_server();
  me_client_free(client);
  return test_end();
}
