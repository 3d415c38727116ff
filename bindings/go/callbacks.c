#include "callbacks.h"
#include "_cgo_export.h"

void me_go_on_leader(void *user_data) { meGoElectorCallback((uintptr_t)user_data, 0); }
void me_go_on_leader_loss(void *user_data) { meGoElectorCallback((uintptr_t)user_data, 1); }
void me_go_on_loop(void *user_data) { meGoElectorCallback((uintptr_t)user_data, 2); }
void me_go_on_new_leader(void *user_data, const me_leader_info *leader) {
  meGoNewLeader((uintptr_t)user_data, (me_leader_info *)leader);
}
void me_go_on_lost(void *user_data) { meGoLockerLost((uintptr_t)user_data); }
void me_go_user_data_free(void *user_data) { meGoUserDataFree((uintptr_t)user_data); }

void me_go_log(void *user_data, int level, const char *message) {
  (void)user_data;
  meGoLog(level, (char *)message);
}

void me_go_elector_options_set_handle(me_elector_options *opts, uintptr_t handle) {
  opts->user_data = (void *)handle;
  opts->user_data_free = me_go_user_data_free;
}

void me_go_locker_options_set_handle(me_locker_options *opts, uintptr_t handle) {
  opts->user_data = (void *)handle;
  opts->user_data_free = me_go_user_data_free;
}
