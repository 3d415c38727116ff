package mongoelector

import (
	"errors"
	"os"
	"testing"
	"time"
)

// nearNow fails unless at is within a minute of now (the server's clock).
func nearNow(t testing.TB, what string, at time.Time) {
	t.Helper()
	if d := time.Since(at); d < -time.Minute || d > time.Minute {
		t.Fatalf("%s = %v, far from now", what, at)
	}
}

// Every field of the locker's records against the lock document as another
// locker reads it.
func TestLockerRecordsAgainstServer(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	const ttl = 30 * time.Second
	holder := newLocker(t, c, db, "rec", &LockerOptions{TTL: ttl})
	reader := newLocker(t, c, db, "rec", nil)
	host, err := os.Hostname()
	must(t, err)
	if holder.Host() != host || holder.PID() != int64(os.Getpid()) {
		t.Fatalf("holder identity: host %q pid %d, want %q %d", holder.Host(), holder.PID(), host, os.Getpid())
	}
	must(t, holder.Acquire(bg))
	exp, ok := holder.Expires()
	if !ok {
		t.Fatal("Expires not ok after Acquire")
	}

	cur, err := reader.Current(bg)
	must(t, err)
	if cur == nil {
		t.Fatal("Current: nobody holds the lock")
	}
	want := CurrentLock{Key: "rec", Locked: true, Host: host, UUID: holder.UUID(), PID: int64(os.Getpid()),
		Created: cur.Created, Expires: exp, Fence: holder.Fence()}
	if *cur != want || !cur.Expires.Equal(cur.Created.Add(ttl)) || cur.Expires.Location() != time.UTC {
		t.Fatalf("Current = %+v\nwant      %+v (expires = created + %v, UTC)", *cur, want, ttl)
	}
	nearNow(t, "Current.Created", cur.Created)

	st, err := holder.Status(bg)
	must(t, err)
	wantSt := LockStatus{UUID: holder.UUID(), Key: "rec", TTL: ttl, Timestamp: st.Timestamp, Host: host, PID: int64(os.Getpid()),
		Owned: true, Created: cur.Created, Expires: cur.Expires, Fence: cur.Fence}
	if *st != wantSt {
		t.Fatalf("holder's Status = %+v\nwant              %+v", *st, wantSt)
	}
	nearNow(t, "Status.Timestamp", st.Timestamp)

	// The reader's own view: not owned, so no holding fields.
	rst, err := reader.Status(bg)
	must(t, err)
	if rst.Owned || rst.UUID != reader.UUID() || rst.Fence != 0 || !rst.Created.IsZero() || !rst.Expires.IsZero() ||
		rst.TTL != 600*time.Second || rst.Host != host || rst.PID != int64(os.Getpid()) {
		t.Fatalf("reader's Status = %+v", *rst)
	}

	// A renewal moves the document's expiry to what Touch returned.
	time.Sleep(20 * time.Millisecond)
	newExp, err := holder.Touch(bg)
	must(t, err)
	cur2, err := reader.Current(bg)
	must(t, err)
	if cur2 == nil || !cur2.Expires.Equal(newExp) || !cur2.Created.Equal(cur.Created) || cur2.Fence != cur.Fence {
		t.Fatalf("Current after Touch = %+v; Touch gave %v", cur2, newExp)
	}
	if e, _ := holder.Expires(); !e.Equal(newExp) {
		t.Fatalf("Expires after Touch = %v, want %v", e, newExp)
	}
}

// Every field of the elector's records against the lock and the status
// reports as another elector reads them.
func TestElectorRecordsAgainstServer(t *testing.T) {
	c := newClient(t)
	db := testDB(t)
	const ttl = 10 * time.Second
	host, err := os.Hostname()
	must(t, err)
	leader := newElector(t, c, db, "g", &ElectorOptions{TTL: ttl, AppVersion: "v-leader"})
	follower := newElector(t, c, db, "g", &ElectorOptions{TTL: ttl})
	before := time.Now()
	must(t, leader.Poll())
	must(t, follower.Poll())
	if !leader.IsLeader() || follower.IsLeader() {
		t.Fatalf("leader %v follower %v", leader.IsLeader(), follower.IsLeader())
	}

	// The lock document, read through the follower's read-only lock.
	lock := follower.Lock()
	if lock.Key() != "g" || lock.UUID() != follower.UUID() || lock.TTL() != ttl {
		t.Fatalf("follower's Lock: key %q uuid %q ttl %v", lock.Key(), lock.UUID(), lock.TTL())
	}
	cur, err := lock.Current(bg)
	must(t, err)
	if cur == nil || cur.UUID != leader.UUID() || cur.Host != host || cur.PID != int64(os.Getpid()) ||
		cur.Fence != leader.Fence() || cur.Fence <= 0 || !cur.Expires.Equal(cur.Created.Add(ttl)) {
		t.Fatalf("the election's lock = %+v, want held by %s fence %d", cur, leader.UUID(), leader.Fence())
	}
	// The read-only lock refuses to act.
	wantErr(t, "Acquire on an elector's lock", lock.Acquire(bg, NonBlocking()), ErrInvalidState)
	_, err = lock.Release(bg)
	wantErr(t, "Release on an elector's lock", err, ErrInvalidState)
	_, err = leader.Lock().Touch(bg)
	wantErr(t, "Touch on an elector's lock", err, ErrInvalidState)
	wantErr(t, "Close on an elector's lock", leader.Lock().Close(), ErrInvalidState)
	owned, err := leader.Lock().Owned(bg)
	mustBool(t, "the leader's Lock().Owned", true, owned, err)

	ns, err := leader.NodeStatus(bg)
	must(t, err)
	wantNs := NodeStatus{
		LockStatus: LockStatus{UUID: leader.UUID(), Key: "g", TTL: ttl, Timestamp: ns.Timestamp, Host: host, PID: int64(os.Getpid()),
			Owned: true, Created: cur.Created, Expires: cur.Expires, Fence: cur.Fence},
		IsLeader: true, ElectorRunning: false, LastPoll: ns.LastPoll, AppVersion: "v-leader",
	}
	if *ns != wantNs {
		t.Fatalf("leader's NodeStatus = %+v\nwant                   %+v", *ns, wantNs)
	}
	nearNow(t, "NodeStatus.Timestamp", ns.Timestamp)
	if ns.LastPoll.Before(before.Add(-time.Minute)) || ns.LastPoll.After(time.Now().Add(time.Minute)) {
		t.Fatalf("LastPoll = %v", ns.LastPoll)
	}

	cd, err := follower.ClusterDetail(bg)
	must(t, err)
	if cd.Leader == nil || *cd.Leader != (LeaderInfo{Host: host, PID: int64(os.Getpid()), UUID: leader.UUID(), Fence: cur.Fence}) {
		t.Fatalf("ClusterDetail.Leader = %+v", cd.Leader)
	}
	nearNow(t, "ClusterDetail.Timestamp", cd.Timestamp)
	byUUID := map[string]NodeStatus{}
	for _, m := range cd.Members {
		byUUID[m.UUID] = m
	}
	if len(cd.Members) != 2 || len(byUUID) != 2 {
		t.Fatalf("members: %+v", cd.Members)
	}
	// The leader's report as the follower reads it is what the leader
	// reported at its poll: same holding, same identity.
	m := byUUID[leader.UUID()]
	if m.Key != "g" || m.Host != host || m.PID != int64(os.Getpid()) || !m.IsLeader || !m.Owned || m.Fence != cur.Fence ||
		!m.Created.Equal(cur.Created) || m.TTL != ttl || m.AppVersion != "v-leader" || m.LastPoll.IsZero() || m.ElectorRunning {
		t.Fatalf("the leader as a member: %+v", m)
	}
	f := byUUID[follower.UUID()]
	if f.Key != "g" || f.IsLeader || f.Owned || f.Fence != 0 || !f.Created.IsZero() || !f.Expires.IsZero() ||
		f.AppVersion != "" || f.LastPoll.IsZero() || f.Host != host {
		t.Fatalf("the follower as a member: %+v", f)
	}
	if fs, err := follower.NodeStatus(bg); err != nil || fs.UUID != follower.UUID() || fs.IsLeader || fs.Owned {
		t.Fatalf("follower's NodeStatus = %+v, %v", fs, err)
	}

	// Nobody leads: no leader in the detail.
	must(t, leader.Release())
	cd, err = follower.ClusterDetail(bg)
	must(t, err)
	if cd.Leader != nil {
		t.Fatalf("ClusterDetail.Leader after the release = %+v", cd.Leader)
	}
	if cur, err := lock.Current(bg); err != nil || cur != nil {
		t.Fatalf("the election's lock after the release = %+v, %v", cur, err)
	}
	if !errors.Is(leader.Lock().Close(), ErrInvalidState) {
		t.Fatal("Close on an elector's lock")
	}
}
