package mongoelector

import (
	"encoding/json"
	"fmt"
	"time"
)

// CurrentLock is the live lock of a key (Locker.Current).
type CurrentLock struct {
	Key     string    // the lock key (the document's _id)
	Locked  bool      // always true: a released or expired lock has no current document
	Host    string    // host of the holder
	UUID    string    // UUID of the holding Locker
	PID     int64     // process id of the holder
	Created time.Time // when the holding began
	Expires time.Time // when the holding expires unless renewed
	Fence   int64     // fencing token of the holding
}

// LockStatus is a Locker's view of its lock (Locker.Status).
type LockStatus struct {
	UUID      string
	Key       string
	TTL       time.Duration
	Timestamp time.Time // when the status was taken (server-corrected clock)
	Host      string
	PID       int64
	Owned     bool      // this Locker holds the lock
	Created   time.Time // when this Locker's holding began; zero unless Owned
	Expires   time.Time // when it expires; zero unless Owned
	Fence     int64     // fencing token of the holding; 0 unless Owned
}

// NodeStatus is one elector's report (Elector.NodeStatus and each member of
// ClusterDetail.Members).
type NodeStatus struct {
	LockStatus
	ID             string    // the report's _id (the elector's lock UUID)
	IsLeader       bool      // it leads
	ElectorRunning bool      // its elector loop runs
	LastPoll       time.Time // its last poll; zero if it never polled
	AppVersion     string    // the AppVersion it was given; "" if none
}

// LeaderInfo identifies the leader, taken from the lock itself.
type LeaderInfo struct {
	Host  string
	PID   int64
	UUID  string
	Fence int64
}

// ClusterDetail describes the whole group (Elector.ClusterDetail).
type ClusterDetail struct {
	Members   []NodeStatus // live members, newest report first
	Leader    *LeaderInfo  // nil when nobody leads
	Timestamp time.Time
}

// The JSON shapes of the C ABI.

type jsonCurrent struct {
	ID        string    `json:"_id"`
	Locked    bool      `json:"locked"`
	Host      string    `json:"host"`
	UUID      string    `json:"uuid"`
	PID       int64     `json:"pid"`
	TSCreated time.Time `json:"ts_created"`
	TSExpire  time.Time `json:"ts_expire"`
	Fence     int64     `json:"fence"`
}

type jsonLockStatus struct {
	UUID        string     `json:"uuid"`
	Key         string     `json:"key"`
	TTL         float64    `json:"ttl"`
	Timestamp   time.Time  `json:"timestamp"`
	Host        string     `json:"host"`
	PID         int64      `json:"pid"`
	LockOwned   bool       `json:"lock_owned"`
	LockCreated *time.Time `json:"lock_created"`
	LockExpires *time.Time `json:"lock_expires"`
	Fence       *int64     `json:"fence"`
}

type jsonNodeStatus struct {
	jsonLockStatus
	ID             string     `json:"_id"`
	IsLeader       bool       `json:"is_leader"`
	ElectorRunning bool       `json:"elector_running"`
	LastPoll       *time.Time `json:"last_poll"`
	AppVersion     *string    `json:"app_version"`
}

type jsonCluster struct {
	MemberDetail []jsonNodeStatus `json:"member_detail"`
	Leader       *struct {
		Host      string `json:"host"`
		ProcessID int64  `json:"process_id"`
		UUID      string `json:"uuid"`
		Fence     int64  `json:"fence"`
	} `json:"leader"`
	Timestamp time.Time `json:"timestamp"`
}

func orZero[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func (j *jsonLockStatus) convert() LockStatus {
	return LockStatus{
		UUID:      j.UUID,
		Key:       j.Key,
		TTL:       seconds(j.TTL),
		Timestamp: utc(j.Timestamp),
		Host:      j.Host,
		PID:       j.PID,
		Owned:     j.LockOwned,
		Created:   utc(orZero(j.LockCreated)),
		Expires:   utc(orZero(j.LockExpires)),
		Fence:     orZero(j.Fence),
	}
}

func (j *jsonNodeStatus) convert() NodeStatus {
	return NodeStatus{
		LockStatus:     j.jsonLockStatus.convert(),
		ID:             j.ID,
		IsLeader:       j.IsLeader,
		ElectorRunning: j.ElectorRunning,
		LastPoll:       utc(orZero(j.LastPoll)),
		AppVersion:     orZero(j.AppVersion),
	}
}

func decode(s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return &Error{Code: CodeInternal, Op: "decode", Message: fmt.Sprintf("bad JSON from the library: %v: %q", err, s)}
	}
	return nil
}

func decodeCurrent(s string) (*CurrentLock, error) {
	var j jsonCurrent
	if err := decode(s, &j); err != nil {
		return nil, err
	}
	return &CurrentLock{
		Key: j.ID, Locked: j.Locked, Host: j.Host, UUID: j.UUID, PID: j.PID,
		Created: utc(j.TSCreated), Expires: utc(j.TSExpire), Fence: j.Fence,
	}, nil
}

func decodeLockStatus(s string) (*LockStatus, error) {
	var j jsonLockStatus
	if err := decode(s, &j); err != nil {
		return nil, err
	}
	st := j.convert()
	return &st, nil
}

func decodeNodeStatus(s string) (*NodeStatus, error) {
	var j jsonNodeStatus
	if err := decode(s, &j); err != nil {
		return nil, err
	}
	st := j.convert()
	return &st, nil
}

func decodeCluster(s string) (*ClusterDetail, error) {
	var j jsonCluster
	if err := decode(s, &j); err != nil {
		return nil, err
	}
	cd := &ClusterDetail{Timestamp: utc(j.Timestamp), Members: make([]NodeStatus, 0, len(j.MemberDetail))}
	for i := range j.MemberDetail {
		cd.Members = append(cd.Members, j.MemberDetail[i].convert())
	}
	if j.Leader != nil {
		cd.Leader = &LeaderInfo{Host: j.Leader.Host, PID: j.Leader.ProcessID, UUID: j.Leader.UUID, Fence: j.Leader.Fence}
	}
	return cd, nil
}
