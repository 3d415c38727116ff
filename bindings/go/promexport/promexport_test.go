package promexport

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	mongoelector "github.com/mongoelector/mongoelector/bindings/go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// scrape serves reg as Prometheus does, parses the text with the official
// parser and gives the families by name.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL, nil)
	must(t, err)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %s", resp.StatusCode, body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, body)
	}
	return fams
}

// value gives the sample of name with key and role, and whether there is one.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, key, role string) (float64, bool) {
	t.Helper()
	f := fams[name]
	if f == nil {
		return 0, false
	}
	if f.GetType() != typ {
		t.Fatalf("%s is a %v, want a %v", name, f.GetType(), typ)
	}
	for _, m := range f.GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		if len(l) != 2 || l["key"] != key || l["role"] != role {
			continue
		}
		if typ == dto.MetricType_COUNTER {
			return m.GetCounter().GetValue(), true
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

// A real locker and elector against the test server: the scrape parses with
// the official parser and carries their counters.
func TestCollector(t *testing.T) {
	uri := os.Getenv("MONGOELECTOR_TEST_URI")
	if uri == "" {
		t.Fatal("MONGOELECTOR_TEST_URI is not set: run bindings/go/test.sh")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	db := "go_promexport_" + hex.EncodeToString(b[:])
	c, err := mongoelector.NewClient(uri)
	must(t, err)
	defer c.Close()
	ctx := context.Background()

	l, err := c.NewLocker(db, "prom-lock", &mongoelector.LockerOptions{TTL: 10 * time.Second})
	must(t, err)
	defer l.Close()
	const n, m = 2, 3
	for i := 0; i < n; i++ {
		if i > 0 {
			_, err := l.Release(ctx)
			must(t, err)
		}
		must(t, l.Acquire(ctx))
	}
	for j := 0; j < m; j++ {
		_, err := l.Touch(ctx)
		must(t, err)
	}
	e, err := c.NewElector(db, "prom-group", &mongoelector.ElectorOptions{TTL: 2 * time.Second})
	must(t, err)
	defer e.Close()
	must(t, e.Start())
	for deadline := time.Now().Add(30 * time.Second); !e.IsLeader(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the elector did not lead in 30 s")
		}
	}

	col := New()
	col.AddLocker(l)
	col.AddElector(e)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	fams := scrape(t, reg)
	lst := l.Stats()
	C, G := dto.MetricType_COUNTER, dto.MetricType_GAUGE
	want := []struct {
		name      string
		typ       dto.MetricType
		key, role string
		check     func(float64) bool
		what      string
	}{
		{"mongoelector_acquisitions_total", C, "prom-lock", "locker", func(v float64) bool { return v == n }, "n"},
		{"mongoelector_renewals_total", C, "prom-lock", "locker", func(v float64) bool { return v == m }, "m"},
		{"mongoelector_failed_renewals_total", C, "prom-lock", "locker", func(v float64) bool { return v == 0 }, "0"},
		{"mongoelector_losses_total", C, "prom-lock", "locker", func(v float64) bool { return v == 0 }, "0"},
		{"mongoelector_takeovers_seen_total", C, "prom-lock", "locker", func(v float64) bool { return v == 0 }, "0"},
		{"mongoelector_round_trips_total", C, "prom-lock", "locker", func(v float64) bool { return v == float64(lst.RoundTrips) && v >= n+m }, "Stats().RoundTrips"},
		{"mongoelector_round_trip_last_seconds", G, "prom-lock", "locker", func(v float64) bool { return v == lst.LastRoundTrip.Seconds() && v > 0 }, "Stats().LastRoundTrip"},
		{"mongoelector_round_trip_max_seconds", G, "prom-lock", "locker", func(v float64) bool { return v == lst.MaxRoundTrip.Seconds() && v > 0 }, "Stats().MaxRoundTrip"},
		{"mongoelector_lease_left_seconds", G, "prom-lock", "locker", func(v float64) bool { return v > 0 && v <= 10 }, "in (0, 10]"},
		{"mongoelector_acquisitions_total", C, "prom-group", "elector", func(v float64) bool { return v == 1 }, "1"},
		{"mongoelector_leader_transitions_total", C, "prom-group", "elector", func(v float64) bool { return v == 1 }, "1"},
		{"mongoelector_is_leader", G, "prom-group", "elector", func(v float64) bool { return v == 1 }, "1"},
		{"mongoelector_lease_left_seconds", G, "prom-group", "elector", func(v float64) bool { return v > 0 && v <= 2 }, "in (0, 2]"},
		{"mongoelector_round_trips_total", C, "prom-group", "elector", func(v float64) bool { return v > 0 }, "> 0"},
	}
	for _, w := range want {
		v, ok := value(t, fams, w.name, w.typ, w.key, w.role)
		if !ok || !w.check(v) {
			t.Errorf("%s{key=%q,role=%q} = %v (present %v), want %s", w.name, w.key, w.role, v, ok, w.what)
		}
	}
	if _, ok := value(t, fams, "mongoelector_is_leader", G, "prom-lock", "locker"); ok {
		t.Error("a locker has mongoelector_is_leader")
	}

	// After Stop: not leading, two transitions; a removed locker is gone.
	must(t, e.Stop())
	col.RemoveLocker(l)
	fams = scrape(t, reg)
	if v, _ := value(t, fams, "mongoelector_is_leader", G, "prom-group", "elector"); v != 0 {
		t.Errorf("is_leader after Stop = %v", v)
	}
	if v, _ := value(t, fams, "mongoelector_leader_transitions_total", C, "prom-group", "elector"); v != 2 {
		t.Errorf("leader_transitions_total after Stop = %v, want 2", v)
	}
	if _, ok := value(t, fams, "mongoelector_acquisitions_total", C, "prom-lock", "locker"); ok {
		t.Error("a removed locker is still collected")
	}
}
