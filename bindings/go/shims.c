#include <string.h>

#include "shims.h"
#include "_cgo_export.h"

/* Copies this thread's last error message; NULL only when out of memory. */
static char *me_go_dup_error(void) {
  const char *m = me_last_error_message();
  if (m == NULL) {
    m = "";
  }
  size_t n = strlen(m) + 1;
  char *copy = malloc(n);
  if (copy != NULL) {
    memcpy(copy, m, n);
  }
  return copy;
}

#define ME_GO_CALL(call)                      \
  do {                                        \
    int st_ = (int)(call);                    \
    if (st_ != (int)ME_OK && err != NULL) {   \
      *err = me_go_dup_error();               \
    }                                         \
    return st_;                               \
  } while (0)

int me_go_client_new(const char *uri, me_client **out, char **err) {
  ME_GO_CALL(me_client_new(uri, out));
}

int me_go_locker_new(const me_client *client, const char *db, const char *key,
                     const me_locker_options *opts, me_locker **out, char **err) {
  ME_GO_CALL(me_locker_new(client, db, key, opts, out));
}

int me_go_try_acquire(me_locker *l, double timeout, bool force, char **err) {
  ME_GO_CALL(me_try_acquire(l, timeout, force));
}

int me_go_release(me_locker *l, bool force, char **err) { ME_GO_CALL(me_release(l, force)); }

int me_go_touch(me_locker *l, int64_t *new_expire_ms, char **err) {
  ME_GO_CALL(me_touch(l, new_expire_ms));
}

int me_go_locked(me_locker *l, bool *out, char **err) { ME_GO_CALL(me_locked(l, out)); }

int me_go_owned(me_locker *l, bool *out, char **err) { ME_GO_CALL(me_owned(l, out)); }

int me_go_get_current(me_locker *l, char **json, char **err) { ME_GO_CALL(me_get_current(l, json)); }

int me_go_locker_status(me_locker *l, char **json, char **err) {
  ME_GO_CALL(me_locker_status(l, json));
}

/* Elector callbacks: user_data carries a cgo.Handle value. */
static void me_go_on_leader(void *user_data) { meGoElectorCallback((uintptr_t)user_data, 0); }
static void me_go_on_leader_loss(void *user_data) { meGoElectorCallback((uintptr_t)user_data, 1); }
static void me_go_on_loop(void *user_data) { meGoElectorCallback((uintptr_t)user_data, 2); }

void me_go_elector_options_set_callbacks(me_elector_options *opts, uintptr_t handle,
                                         bool on_leader, bool on_leader_loss, bool on_loop) {
  opts->user_data = (void *)handle;
  opts->on_leader = on_leader ? me_go_on_leader : NULL;
  opts->on_leader_loss = on_leader_loss ? me_go_on_leader_loss : NULL;
  opts->on_loop = on_loop ? me_go_on_loop : NULL;
}

int me_go_elector_new(const me_client *client, const char *db, const char *key,
                      const me_elector_options *opts, me_elector **out, char **err) {
  ME_GO_CALL(me_elector_new(client, db, key, opts, out));
}

int me_go_elector_start(me_elector *e, bool blocking, char **err) {
  ME_GO_CALL(me_elector_start(e, blocking));
}

int me_go_elector_stop(me_elector *e, char **err) { ME_GO_CALL(me_elector_stop(e)); }

int me_go_elector_poll(me_elector *e, char **err) { ME_GO_CALL(me_elector_poll(e)); }

int me_go_elector_release(me_elector *e, char **err) { ME_GO_CALL(me_elector_release(e)); }

int me_go_elector_is_leader(me_elector *e, bool *out, char **err) {
  ME_GO_CALL(me_elector_is_leader(e, out));
}

int me_go_elector_leader_exists(me_elector *e, bool *out, char **err) {
  ME_GO_CALL(me_elector_leader_exists(e, out));
}

int me_go_elector_node_status(me_elector *e, char **json, char **err) {
  ME_GO_CALL(me_elector_node_status(e, json));
}

int me_go_elector_cluster_detail(me_elector *e, char **json, char **err) {
  ME_GO_CALL(me_elector_cluster_detail(e, json));
}

static void me_go_log(void *user_data, int level, const char *message) {
  (void)user_data;
  meGoLog(level, (char *)message);
}

void me_go_set_log(bool enable, int max_level) {
  me_set_log_callback(enable ? me_go_log : NULL, max_level, NULL);
}
