// Package promexport exports the counters of mongoelector lockers and
// electors (their Stats, IsLeader) to Prometheus as a prometheus.Collector.
// It is a module of its own, so that the mongoelector package needs nothing
// but the standard library.
//
//	col := promexport.New()
//	col.AddElector(elector)
//	prometheus.MustRegister(col)
//
// Every metric has the labels key (the lock or group key) and role ("locker"
// or "elector"); add at most one locker and one elector per key to a
// Collector. Values are read from memory at each scrape (no round trip).
package promexport

import (
	"sync"

	mongoelector "github.com/mongoelector/mongoelector/bindings/go"
	"github.com/prometheus/client_golang/prometheus"
)

var labels = []string{"key", "role"}

func desc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("mongoelector_"+name, help, labels, nil)
}

var (
	acquisitions      = desc("acquisitions_total", "Holdings won (for an elector: terms as leader).")
	renewals          = desc("renewals_total", "Lease renewals written.")
	failedRenewals    = desc("failed_renewals_total", "Lease renewals that failed (a database error, or the lock no longer held).")
	losses            = desc("losses_total", "Holdings or terms that ended without a release (lease run out, taken over).")
	takeoversSeen     = desc("takeovers_seen_total", "Losses caused by another holder seen on the lock.")
	leaderTransitions = desc("leader_transitions_total", "Times the elector became or stopped being leader.")
	roundTrips        = desc("round_trips_total", "Database round trips of the lock.")
	roundTripLast     = desc("round_trip_last_seconds", "Duration of the latest database round trip of the lock.")
	roundTripMax      = desc("round_trip_max_seconds", "Longest database round trip of the lock.")
	leaseLeft         = desc("lease_left_seconds", "Time left on the current lease by the holder's clock (0 when none).")
	isLeader          = desc("is_leader", "1 while the elector leads by its own clock, 0 otherwise.")
)

// Collector collects the metrics of the lockers and electors added to it. It
// keeps them reachable until removed: remove them when you close them. Safe
// for concurrent use.
type Collector struct {
	mu       sync.Mutex
	lockers  []*mongoelector.Locker
	electors []*mongoelector.Elector
}

// New gives an empty Collector.
func New() *Collector { return &Collector{} }

// AddLocker adds l (role "locker").
func (c *Collector) AddLocker(l *mongoelector.Locker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lockers = append(c.lockers, l)
}

// AddElector adds e (role "elector").
func (c *Collector) AddElector(e *mongoelector.Elector) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.electors = append(c.electors, e)
}

// RemoveLocker removes l.
func (c *Collector) RemoveLocker(l *mongoelector.Locker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lockers = without(c.lockers, l)
}

// RemoveElector removes e.
func (c *Collector) RemoveElector(e *mongoelector.Elector) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.electors = without(c.electors, e)
}

func without[T comparable](s []T, x T) []T {
	out := s[:0]
	for _, y := range s {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}

// Describe sends the descriptions of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{acquisitions, renewals, failedRenewals, losses, takeoversSeen,
		leaderTransitions, roundTrips, roundTripLast, roundTripMax, leaseLeft, isLeader} {
		ch <- d
	}
}

// Collect sends the current values.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	lockers := append([]*mongoelector.Locker(nil), c.lockers...)
	electors := append([]*mongoelector.Elector(nil), c.electors...)
	c.mu.Unlock()
	for _, l := range lockers {
		collectStats(ch, l.Stats(), l.Key(), "locker")
	}
	for _, e := range electors {
		st := e.Stats()
		collectStats(ch, st, e.Key(), "elector")
		ch <- prometheus.MustNewConstMetric(leaderTransitions, prometheus.CounterValue, float64(st.LeaderTransitions), e.Key(), "elector")
		leading := 0.0
		if e.IsLeader() {
			leading = 1
		}
		ch <- prometheus.MustNewConstMetric(isLeader, prometheus.GaugeValue, leading, e.Key(), "elector")
	}
}

func collectStats(ch chan<- prometheus.Metric, st mongoelector.Stats, key, role string) {
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), key, role)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, key, role)
	}
	counter(acquisitions, st.Acquisitions)
	counter(renewals, st.Renewals)
	counter(failedRenewals, st.FailedRenewals)
	counter(losses, st.Losses)
	counter(takeoversSeen, st.TakeoversSeen)
	counter(roundTrips, st.RoundTrips)
	gauge(roundTripLast, st.LastRoundTrip.Seconds())
	gauge(roundTripMax, st.MaxRoundTrip.Seconds())
	gauge(leaseLeft, st.LeaseLeft.Seconds())
}
