package mongoelector

/*
#include "mongoelector.h"
*/
import "C"

import (
	"math"
	"time"
	"unsafe"
)

// CurrentLock is the live lock of a key (Locker.Current; me_current_lock).
type CurrentLock struct {
	Key     string    // the lock key
	Locked  bool      // always true: a released or expired lock has no record
	Host    string    // host of the holder
	UUID    string    // UUID of the holding Locker
	PID     int64     // process id of the holder
	Created time.Time // when the holding began
	Expires time.Time // when the holding expires unless renewed
	Fence   int64     // fencing token of the holding
}

// LockStatus is a Locker's view of its lock (Locker.Status; me_lock_status).
type LockStatus struct {
	UUID      string
	Key       string
	TTL       time.Duration
	Timestamp time.Time // when the view was taken
	Host      string
	PID       int64
	Owned     bool      // this Locker holds the lock
	Created   time.Time // when this Locker's holding began; zero unless Owned
	Expires   time.Time // when it expires; zero unless Owned
	Fence     int64     // fencing token of the holding; 0 unless Owned
}

// NodeStatus is one elector's report (Elector.NodeStatus and each member of
// ClusterDetail.Members; me_node_status). Its UUID is the elector's.
type NodeStatus struct {
	LockStatus
	IsLeader       bool      // it leads
	ElectorRunning bool      // its elector loop runs
	LastPoll       time.Time // its last poll; zero if it never polled
	AppVersion     string    // the AppVersion it was given; "" if none
}

// LeaderInfo identifies the leader, taken from the lock itself (me_leader_info).
type LeaderInfo struct {
	Host  string
	PID   int64
	UUID  string
	Fence int64
}

// ClusterDetail describes the whole group (Elector.ClusterDetail; me_cluster_detail).
type ClusterDetail struct {
	Members   []NodeStatus // live members, newest report first
	Leader    *LeaderInfo  // nil when nobody leads
	Timestamp time.Time
}

// msTime is an instant of the C ABI (ms since the Unix epoch) in UTC.
func msTime(ms C.int64_t) time.Time { return time.UnixMilli(int64(ms)).UTC() }

// seconds converts the library's seconds to a Duration, rounded to the
// nanosecond and saturated at the Duration range (the largest ttl a Duration
// can give comes back just above math.MaxInt64 ns, and converting a float that
// large to an integer is undefined).
func seconds(s float64) time.Duration {
	ns := math.Round(s * float64(time.Second))
	switch {
	case ns != ns: // NaN
		return 0
	case ns >= math.MaxInt64: // float64(math.MaxInt64) is 2^63
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(ns)
}

func currentLockOf(r *C.me_current_lock) *CurrentLock {
	return &CurrentLock{
		Key:     C.GoString(r.key),
		Locked:  bool(r.locked),
		Host:    C.GoString(r.host),
		UUID:    C.GoString(r.uuid),
		PID:     int64(r.pid),
		Created: msTime(r.ts_created_ms),
		Expires: msTime(r.ts_expire_ms),
		Fence:   int64(r.fence),
	}
}

func lockStatusOf(r *C.me_lock_status) LockStatus {
	s := LockStatus{
		UUID:      C.GoString(r.uuid),
		Key:       C.GoString(r.key),
		TTL:       seconds(float64(r.ttl)),
		Timestamp: msTime(r.timestamp_ms),
		Host:      C.GoString(r.host),
		PID:       int64(r.pid),
		Owned:     bool(r.lock_owned),
		Fence:     int64(r.fence),
	}
	if s.Owned {
		s.Created, s.Expires = msTime(r.lock_created_ms), msTime(r.lock_expires_ms)
	}
	return s
}

func nodeStatusOf(r *C.me_node_status) NodeStatus {
	s := NodeStatus{
		LockStatus:     lockStatusOf(&r.lock),
		IsLeader:       bool(r.is_leader),
		ElectorRunning: bool(r.elector_running),
		AppVersion:     C.GoString(r.app_version), // "" for NULL
	}
	if r.has_last_poll {
		s.LastPoll = msTime(r.last_poll_ms)
	}
	return s
}

func clusterDetailOf(r *C.me_cluster_detail) *ClusterDetail {
	d := &ClusterDetail{Timestamp: msTime(r.timestamp_ms), Members: make([]NodeStatus, 0, int(r.member_count))}
	if r.member_count > 0 {
		for _, m := range unsafe.Slice(r.members, int(r.member_count)) {
			d.Members = append(d.Members, nodeStatusOf(&m))
		}
	}
	if r.has_leader {
		d.Leader = leaderInfoOf(&r.leader)
	}
	return d
}

// Stats are the counters of a Locker or an Elector (me_stats), read from
// memory.
type Stats struct {
	Acquisitions      uint64        // holdings won (an elector's: terms)
	Renewals          uint64        // renewals written
	FailedRenewals    uint64        // renewals that failed (database error, lock no longer ours)
	Losses            uint64        // holdings or terms that ended without a release
	TakeoversSeen     uint64        // of those, ended because another holder was seen
	LeaderTransitions uint64        // times an elector became or stopped being leader
	RoundTrips        uint64        // database round trips of the lock
	LastRoundTrip     time.Duration // the latest round trip's duration
	MaxRoundTrip      time.Duration // the longest round trip
	LeaseLeft         time.Duration // time left on the current lease by the holder's clock; 0 when none
}

func statsOf(s *C.me_stats) Stats {
	return Stats{
		Acquisitions:      uint64(s.acquisitions),
		Renewals:          uint64(s.renewals),
		FailedRenewals:    uint64(s.failed_renewals),
		Losses:            uint64(s.losses),
		TakeoversSeen:     uint64(s.takeovers_seen),
		LeaderTransitions: uint64(s.leader_transitions),
		RoundTrips:        uint64(s.round_trips),
		LastRoundTrip:     seconds(float64(s.last_round_trip)),
		MaxRoundTrip:      seconds(float64(s.max_round_trip)),
		LeaseLeft:         seconds(float64(s.lease_left)),
	}
}

func leaderInfoOf(l *C.me_leader_info) *LeaderInfo {
	return &LeaderInfo{Host: C.GoString(l.host), PID: int64(l.process_id), UUID: C.GoString(l.uuid), Fence: int64(l.fence)}
}
