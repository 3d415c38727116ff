// Command contender is the Go version of the cross-language lock contender:
//
//	contender [-autorenew -ttl D -maxoffset D] URI DB KEY ITERATIONS HOLD_MS LOGFILE
//
// ITERATIONS times it acquires KEY (blocking, ttl 10 s unless -ttl, default
// step), reads CLOCK_MONOTONIC as start, sleeps HOLD_MS, reads it as end,
// releases, and appends "go <pid> <fence> <start_ns> <end_ns>\n" to LOGFILE
// with one write. With -autorenew the holding is renewed in the background
// (HOLD_MS may exceed the ttl) and the hold fails (exit status 1) if the
// holding's context ends, the fence changes or Held turns false during it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	mongoelector "github.com/mongoelector/mongoelector/bindings/go"
	"github.com/mongoelector/mongoelector/bindings/go/internal/monoclock"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "contender:", err)
		os.Exit(1)
	}
}

func run(argv []string) error {
	fs := flag.NewFlagSet("contender", flag.ContinueOnError)
	autoRenew := fs.Bool("autorenew", false, "renew the holding in the background and check it is held throughout")
	ttl := fs.Duration("ttl", 10*time.Second, "lease length")
	maxOffset := fs.Duration("maxoffset", 0, "largest clock offset accepted (0: the library's default)")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	args := fs.Args()
	if len(args) != 6 {
		return fmt.Errorf("usage: contender [-autorenew -ttl D -maxoffset D] URI DB KEY ITERATIONS HOLD_MS LOGFILE")
	}
	uri, db, key, logPath := args[0], args[1], args[2], args[5]
	iterations, err := strconv.Atoi(args[3])
	if err != nil || iterations < 0 {
		return fmt.Errorf("bad ITERATIONS %q", args[3])
	}
	holdMS, err := strconv.Atoi(args[4])
	if err != nil || holdMS < 0 {
		return fmt.Errorf("bad HOLD_MS %q", args[4])
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()

	client, err := mongoelector.NewClient(uri)
	if err != nil {
		return err
	}
	defer client.Close()
	locker, err := client.NewLocker(db, key, &mongoelector.LockerOptions{TTL: *ttl, MaxOffset: *maxOffset, AutoRenew: *autoRenew,
		OnLost: func() { fmt.Fprintln(os.Stderr, "contender: OnLost: the holding was lost") }})
	if err != nil {
		return err
	}
	defer locker.Close()

	ctx := context.Background()
	for i := 0; i < iterations; i++ {
		if err := locker.Acquire(ctx); err != nil {
			return err
		}
		start := monoclock.Now()
		fence := locker.Fence()
		if *autoRenew {
			hctx, hfence, ok := locker.Holding()
			if !ok || hfence != fence {
				return fmt.Errorf("hold %d: no live holding after Acquire (fence %d, holding's %d)", i, fence, hfence)
			}
			select {
			case <-hctx.Done():
				return fmt.Errorf("hold %d: the holding (fence %d) ended during the hold; stats %+v", i, fence, locker.Stats())
			case <-time.After(time.Duration(holdMS) * time.Millisecond):
			}
			if !locker.Held() || locker.Fence() != fence {
				return fmt.Errorf("hold %d: not held at its end (held %v, fence %d -> %d)", i, locker.Held(), fence, locker.Fence())
			}
		} else {
			time.Sleep(time.Duration(holdMS) * time.Millisecond)
		}
		end := monoclock.Now()
		if _, err := locker.Release(ctx); err != nil {
			return err
		}
		line := fmt.Sprintf("go %d %d %d %d\n", os.Getpid(), fence, start, end)
		if _, err := logFile.Write([]byte(line)); err != nil { // one write(2) with O_APPEND
			return err
		}
	}
	return nil
}
