package mongoelector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testURI is the server every test runs against (MONGOELECTOR_TEST_URI: a real
// MongoDB or the FerretDB of scripts/test-server).
var testURI string

func TestMain(m *testing.M) {
	testURI = os.Getenv("MONGOELECTOR_TEST_URI")
	if testURI == "" {
		fmt.Fprintln(os.Stderr, "MONGOELECTOR_TEST_URI is not set: run bindings/go/test.sh (it starts a test server) or `make test`")
		os.Exit(2)
	}
	// The examples (and the README programs) read their server from MONGODB_URI.
	os.Setenv("MONGODB_URI", testURI)
	os.Exit(m.Run())
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// testDB is a database name of its own for t: [A-Za-z0-9_-], at most 63 chars.
func testDB(t testing.TB) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := unsafeChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 45 {
		name = name[:45]
	}
	return "go_" + name + "_" + hex.EncodeToString(b[:])
}

func newClient(t testing.TB) *Client {
	t.Helper()
	c, err := NewClient(testURI)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newUnreachableClient is a client of a free local port, where nothing
// listens: every operation fails or runs out of time. query ("?..." or "")
// goes after the URI's path; without serverSelectionTimeoutMS the driver's
// default of 30 s applies.
func newUnreachableClient(t testing.TB, query string) *Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	must(t, ln.Close())
	c, err := NewClient(fmt.Sprintf("mongodb://127.0.0.1:%d/%s", port, query))
	if err != nil {
		t.Fatalf("NewClient of a free port: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newLocker(t testing.TB, c *Client, db, key string, opts *LockerOptions) *Locker {
	t.Helper()
	l, err := c.NewLocker(db, key, opts)
	if err != nil {
		t.Fatalf("NewLocker: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// acquireWaiting starts l.Acquire in a goroutine on a held lock and fails the
// test if it has returned 300 ms later; the channel gives its result.
func acquireWaiting(t testing.TB, ctx context.Context, l *Locker, opts ...AcquireOption) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- l.Acquire(ctx, opts...) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Acquire of a held lock returned: %v", err)
	default:
	}
	return done
}

// acquireResult waits up to limit for the result of an acquireWaiting; it
// fails the test, naming what it waited for, when none comes.
func acquireResult(t testing.TB, done <-chan error, limit time.Duration, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("%s: Acquire still waiting after %v", what, limit)
		return nil
	}
}

// bg is the context of calls that need no deadline.
var bg = context.Background()

// release releases l's lock and checks whether a holding was released.
func release(t testing.TB, l *Locker, want bool) {
	t.Helper()
	released, err := l.Release(bg)
	mustBool(t, "Release of "+l.Key(), want, released, err)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustBool(t testing.TB, what string, want bool, got bool, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// eventually polls cond until it holds or the (generous) limit passes.
func eventually(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchLog routes the library's warnings to the test until it ends; the
// function it gives reports whether one contained substr.
func watchLog(t testing.TB, substr string) func() bool {
	var seen atomic.Bool
	SetLogFunc(func(level int, msg string) {
		if strings.Contains(msg, substr) {
			seen.Store(true)
		}
	}, 2)
	t.Cleanup(func() { SetLogFunc(nil, 2) })
	return seen.Load
}

// logCapture collects what the standard logger prints.
type logCapture struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
