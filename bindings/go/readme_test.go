package mongoelector

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every ```go block of README.md is a whole program: build it against this
// package (through a replace directive, as the README says) and run it.
func TestReadmePrograms(t *testing.T) {
	data, err := os.ReadFile("README.md")
	must(t, err)
	blocks := strings.Split(string(data), "```go\n")[1:]
	if len(blocks) < 4 {
		t.Fatalf("README.md has %d Go blocks, want the lock, long job, election and leading-work programs", len(blocks))
	}
	here, err := filepath.Abs(".")
	must(t, err)
	for i, b := range blocks {
		src := b[:strings.Index(b, "```")]
		if !strings.HasPrefix(src, "package main\n") {
			t.Fatalf("README Go block %d is not a program", i)
		}
		dir := t.TempDir()
		gomod := "module readme\n\ngo 1.22\n\nrequire github.com/mongoelector/mongoelector/bindings/go v0.0.0\n\n" +
			"replace github.com/mongoelector/mongoelector/bindings/go => " + here + "\n"
		must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
		must(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
		for _, args := range [][]string{{"vet", "."}, {"build", "-o", "prog", "."}} {
			cmd := exec.Command("go", args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("README Go block %d: go %s: %v\n%s", i, strings.Join(args, " "), err, out)
			}
		}
		cmd := exec.Command(filepath.Join(dir, "prog"))
		cmd.Env = append(os.Environ(), "MONGODB_URI="+testURI)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README Go block %d failed: %v\n%s", i, err, out)
		}
		t.Logf("README Go block %d output:\n%s", i, out)
		want := [][]string{
			{"holding the lock, fencing token "},
			{"job done with fence ", "still held: true"},
			{"I am the leader now", "leader: true", "no longer the leader"},
			{"leading, term ", "the leader is pid ", "health: 200 ok: leading", "term over, work stopped", "stats: {Acquisitions:1 "},
		}
		if i < len(want) {
			for _, w := range want[i] {
				if !strings.Contains(string(out), w) {
					t.Fatalf("README Go block %d did not print %q:\n%s", i, w, out)
				}
			}
		}
	}
}
