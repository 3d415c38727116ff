package mongoelector

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mongoelector/mongoelector/bindings/go/internal/monoclock"
)

// repoRoot is the repository's top directory (this package is bindings/go).
func repoRoot(t testing.TB) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// goProgram builds ./cmd/<name> into a temporary directory.
func goProgram(t testing.TB, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/"+name)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, b)
	}
	return out
}

// cProgram gives target/c/me_<name>, built (or brought up to date) by
// `make -C tests/c programs`. It skips the test when that fails: the C
// programs are ported to the C ABI separately from this binding.
func cProgram(t testing.TB, name string) string {
	t.Helper()
	root := repoRoot(t)
	path := filepath.Join(root, "target", "c", "me_"+name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, "make", "-C", filepath.Join(root, "tests", "c"), "programs").CombinedOutput()
	if err != nil {
		t.Skipf("the C program %s is not built: `make -C tests/c programs` failed (%v); "+
			"tests/c may not be ported to this C ABI yet:\n%s", path, err, lastLines(string(b), 15))
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("the C program %s is not built by `make -C tests/c programs`: %v", path, err)
	}
	return path
}

// lastLines is the end of a long output.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

type holding struct {
	lang       string
	pid        int
	fence      int64
	start, end int64
}

// contender is one contender process: its program and the arguments before
// the common ones (URI DB KEY ITERATIONS HOLD_MS LOGFILE).
type contender struct {
	bin        string
	flags      []string
	iterations int
	holdMS     int
}

// runContenders runs the contenders at once on one key, each bounded by
// limit, and gives the holds they logged, checked: as many per language as
// asked, never overlapping, fencing tokens growing in the order of the holds.
func runContenders(t *testing.T, limit time.Duration, procs []contender, langs map[string]string) []holding {
	t.Helper()
	db := testDB(t)
	logPath := filepath.Join(t.TempDir(), "holds.log")
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var cmds []*exec.Cmd
	want := map[string]int{}
	for _, p := range procs {
		args := append(append([]string(nil), p.flags...), testURI, db, "shared", strconv.Itoa(p.iterations), strconv.Itoa(p.holdMS), logPath)
		cmd := exec.CommandContext(ctx, p.bin, args...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		want[langs[p.bin]] += p.iterations
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("contender %d (%s %v): %v", i, cmd.Path, cmd.Args[1:], err)
		}
	}

	data, err := os.ReadFile(logPath)
	must(t, err)
	var holds []holding
	perLang := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var h holding
		if n, err := fmt.Sscanf(line, "%s %d %d %d %d", &h.lang, &h.pid, &h.fence, &h.start, &h.end); n != 5 || err != nil {
			t.Fatalf("bad log line %q: %v", line, err)
		}
		if h.end < h.start || h.fence <= 0 {
			t.Fatalf("bad hold %+v", h)
		}
		holds = append(holds, h)
		perLang[h.lang]++
	}
	for lang, n := range want {
		if perLang[lang] != n {
			t.Fatalf("holds per language: %v, want %v", perLang, want)
		}
	}
	if len(perLang) != len(want) {
		t.Fatalf("holds per language: %v, want %v", perLang, want)
	}
	sort.Slice(holds, func(i, j int) bool { return holds[i].start < holds[j].start })
	for i := 1; i < len(holds); i++ {
		prev, cur := holds[i-1], holds[i]
		if cur.start <= prev.end {
			t.Errorf("overlapping holds: %+v and %+v", prev, cur)
		}
		if cur.fence <= prev.fence {
			t.Errorf("fence not increasing: %+v then %+v", prev, cur)
		}
	}
	return holds
}

// A Go and a C process take turns on one key: the holds never overlap and
// the fencing tokens grow in the order of the holds.
func TestCrossLanguageContention(t *testing.T) {
	cBin := cProgram(t, "contender")
	goBin := goProgram(t, "contender")
	const iterations, holdMS = 6, 60
	runContenders(t, 3*time.Minute, []contender{{goBin, nil, iterations, holdMS}, {cBin, nil, iterations, holdMS}},
		map[string]string{goBin: "go", cBin: "c"})
}

// A Go holder under AutoRenew, each hold longer than its ttl (1 s), against
// seven C contenders (ttl 10 s, short holds): 8 processes, 200 holds in all,
// never overlapping, fences growing; the Go holder checks that each of its
// holdings stayed live (context, Held, fence) to its end.
func TestCrossLanguageAutoRenew(t *testing.T) {
	cBin := cProgram(t, "contender")
	goBin := goProgram(t, "contender")
	procs := []contender{{goBin, []string{"-autorenew", "-ttl", "1s", "-maxoffset", "100ms"}, 25, 1300}}
	for i := 0; i < 7; i++ {
		procs = append(procs, contender{cBin, nil, 25, 20})
	}
	holds := runContenders(t, 5*time.Minute, procs, map[string]string{goBin: "go", cBin: "c"})
	var longest int64
	for _, h := range holds {
		if h.lang == "go" && h.end-h.start > longest {
			longest = h.end - h.start
		}
	}
	if time.Duration(longest) < time.Second {
		t.Fatalf("the Go holds lasted at most %v, not beyond the ttl", time.Duration(longest))
	}
	t.Logf("%d holds, the longest Go hold %v", len(holds), time.Duration(longest))
}

type electorEvent struct {
	kind string // leader or loss
	lang string
	pid  int
	ns   int64
}

type electorProc struct {
	cmd  *exec.Cmd
	lang string
	mu   sync.Mutex
	evs  []electorEvent
	done chan error
}

func startElector(t *testing.T, bin, lang string, args ...string) *electorProc {
	t.Helper()
	// Bounded: killed after 3 minutes whatever happens.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	p := &electorProc{cmd: exec.CommandContext(ctx, bin, args...), lang: lang, done: make(chan error, 1)}
	p.cmd.Stderr = os.Stderr
	out, err := p.cmd.StdoutPipe()
	must(t, err)
	must(t, p.cmd.Start())
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev electorEvent
			if n, err := fmt.Sscanf(sc.Text(), "%s %s %d %d", &ev.kind, &ev.lang, &ev.pid, &ev.ns); n != 4 || err != nil ||
				(ev.kind != "leader" && ev.kind != "loss") || ev.lang != lang || ev.pid != p.cmd.Process.Pid {
				t.Errorf("bad line from the %s elector: %q", lang, sc.Text())
				continue
			}
			p.mu.Lock()
			p.evs = append(p.evs, ev)
			p.mu.Unlock()
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
		}
	})
	return p
}

func (p *electorProc) events() []electorEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]electorEvent(nil), p.evs...)
}

func (p *electorProc) leading() bool {
	evs := p.events()
	return len(evs) > 0 && evs[len(evs)-1].kind == "leader"
}

// stop sends SIGTERM and waits for exit status 0.
func (p *electorProc) stop(t *testing.T) {
	t.Helper()
	must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("the %s elector exited with %v", p.lang, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the %s elector did not exit after SIGTERM", p.lang)
	}
}

// A Go and a C elector on one key: one leads, the other takes over once the
// leader is stopped, and the leadership intervals never overlap.
func TestCrossLanguageElection(t *testing.T) {
	cBin := cProgram(t, "elector")
	goBin := goProgram(t, "elector")
	db := testDB(t)
	args := []string{testURI, db, "group", "2", "0"}
	procs := []*electorProc{startElector(t, goBin, "go", args...), startElector(t, cBin, "c", args...)}

	eventually(t, 60*time.Second, "a leader", func() bool { return procs[0].leading() || procs[1].leading() })
	time.Sleep(2 * time.Second) // let both run a while
	var first, second *electorProc
	switch {
	case procs[0].leading() && !procs[1].leading():
		first, second = procs[0], procs[1]
	case procs[1].leading() && !procs[0].leading():
		first, second = procs[1], procs[0]
	default:
		t.Fatalf("not exactly one leader: go %v, c %v", procs[0].events(), procs[1].events())
	}

	// Stopping the leader releases the lock; the other language takes over,
	// necessarily after the release, so after the stop was asked for.
	killed := monoclock.Now()
	first.stop(t)
	if evs := first.events(); evs[len(evs)-1].kind != "loss" {
		t.Fatalf("the stopped %s leader printed no loss: %v", first.lang, evs)
	}
	eventually(t, 60*time.Second, "the "+second.lang+" elector to take over", second.leading)
	secondEvs := second.events()
	if took := secondEvs[len(secondEvs)-1].ns; took <= killed {
		t.Fatalf("the %s elector led at %d, before the %s leader was stopped at %d", second.lang, took, first.lang, killed)
	}
	second.stop(t)
	if evs := second.events(); evs[len(evs)-1].kind != "loss" {
		t.Fatalf("the stopped %s leader printed no loss: %v", second.lang, evs)
	}

	// Leadership intervals: from a leader event to the next loss; the first
	// leader's last term ended (its release) after it was told to stop.
	type interval struct {
		lang       string
		start, end int64
	}
	var terms []interval
	for _, p := range []*electorProc{first, second} {
		evs := p.events()
		for i := 0; i < len(evs); i++ {
			if evs[i].kind != "leader" {
				t.Fatalf("%s elector: %q without a leader before it: %v", p.lang, evs[i].kind, evs)
			}
			if i+1 >= len(evs) || evs[i+1].kind != "loss" {
				t.Fatalf("%s elector: leader without a loss after it: %v", p.lang, evs)
			}
			end := evs[i+1].ns
			if p == first && i+2 == len(evs) {
				end = killed
			}
			terms = append(terms, interval{p.lang, evs[i].ns, end})
			i++
		}
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i].start < terms[j].start })
	for i := 1; i < len(terms); i++ {
		if terms[i].start <= terms[i-1].end {
			t.Errorf("two leaders at once: %+v and %+v", terms[i-1], terms[i])
		}
	}
	t.Logf("terms: %+v", terms)
}
