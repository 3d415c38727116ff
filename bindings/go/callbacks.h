/* C trampolines of the Go binding (callbacks.c): they hand the library's
 * callbacks to the //export'ed Go functions of callbacks.go. user_data is a
 * runtime/cgo.Handle value (an integer, never a Go pointer). */
#ifndef MONGOELECTOR_GO_CALLBACKS_H
#define MONGOELECTOR_GO_CALLBACKS_H

#include <stdint.h>

#include "mongoelector.h"

void me_go_on_leader(void *user_data);
void me_go_on_leader_loss(void *user_data);
void me_go_on_loop(void *user_data);
void me_go_on_new_leader(void *user_data, const me_leader_info *leader);
void me_go_on_lost(void *user_data);
void me_go_user_data_free(void *user_data);
void me_go_log(void *user_data, int level, const char *message);

/* Sets user_data to the handle and user_data_free to its trampoline (Go must
 * not turn an integer into a pointer itself). */
void me_go_elector_options_set_handle(me_elector_options *opts, uintptr_t handle);
void me_go_locker_options_set_handle(me_locker_options *opts, uintptr_t handle);

#endif
