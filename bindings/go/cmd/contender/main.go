// Command contender is the Go version of the cross-language lock contender:
//
//	contender URI DB KEY ITERATIONS HOLD_MS LOGFILE
//
// ITERATIONS times it acquires KEY (blocking, ttl 10 s, default step), reads
// CLOCK_MONOTONIC as start, sleeps HOLD_MS, reads it as end, releases, and
// appends "go <pid> <fence> <start_ns> <end_ns>\n" to LOGFILE with one write.
package main

import (
	"context"
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

func run(args []string) error {
	if len(args) != 6 {
		return fmt.Errorf("usage: contender URI DB KEY ITERATIONS HOLD_MS LOGFILE")
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
	locker, err := client.NewLocker(db, key, &mongoelector.LockerOptions{TTL: 10 * time.Second})
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
		time.Sleep(time.Duration(holdMS) * time.Millisecond)
		end := monoclock.Now()
		fence := locker.Fence()
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
