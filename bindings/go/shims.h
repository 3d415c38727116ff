/* C glue of the Go binding. Every wrapper calls one me_* function and, when it
 * fails, copies this thread's me_last_error_message() into *err (malloc'd, the
 * caller frees it with free()) before returning: the message is thread-local
 * and a goroutine may run on another OS thread in its next cgo call, so it has
 * to be read in the same cgo call as the failing function. */
#ifndef MONGOELECTOR_GO_SHIMS_H
#define MONGOELECTOR_GO_SHIMS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "mongoelector.h"

int me_go_client_new(const char *uri, me_client **out, char **err);

int me_go_locker_new(const me_client *client, const char *db, const char *key,
                     const me_locker_options *opts, me_locker **out, char **err);
int me_go_try_acquire(me_locker *l, double timeout, bool force, char **err);
int me_go_release(me_locker *l, bool force, char **err);
int me_go_touch(me_locker *l, int64_t *new_expire_ms, char **err);
int me_go_locked(me_locker *l, bool *out, char **err);
int me_go_owned(me_locker *l, bool *out, char **err);
int me_go_get_current(me_locker *l, char **json, char **err);
int me_go_locker_status(me_locker *l, char **json, char **err);

/* Sets the callbacks that are wanted to the Go trampolines and user_data to
 * the cgo.Handle value (an integer, never a Go pointer). */
void me_go_elector_options_set_callbacks(me_elector_options *opts, uintptr_t handle,
                                         bool on_leader, bool on_leader_loss, bool on_loop);
int me_go_elector_new(const me_client *client, const char *db, const char *key,
                      const me_elector_options *opts, me_elector **out, char **err);
int me_go_elector_start(me_elector *e, bool blocking, char **err);
int me_go_elector_stop(me_elector *e, char **err);
int me_go_elector_poll(me_elector *e, char **err);
int me_go_elector_release(me_elector *e, char **err);
int me_go_elector_is_leader(me_elector *e, bool *out, char **err);
int me_go_elector_leader_exists(me_elector *e, bool *out, char **err);
int me_go_elector_node_status(me_elector *e, char **json, char **err);
int me_go_elector_cluster_detail(me_elector *e, char **json, char **err);

/* Installs (enable) or removes the Go log trampoline. */
void me_go_set_log(bool enable, int max_level);

#endif
