// Command pairs times uncontended Acquire+Release pairs through the Go binding.
//
//	pairs URI DB KEY PAIRS WARMUP
//
// Prints "pairs N median_ns mean_ns p90_ns" and "cpu cpu_ns_per_pair", as
// bench/c/pairs.c does with TIMEPARANOID 0: one pair is a non-blocking Acquire
// (the lock is free) and a Release on one Locker with a 60 s ttl and the clock
// check off; the CPU time is the whole process's (every thread, from
// /proc/self/task/*/schedstat) over the timed pairs.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	mongoelector "github.com/mongoelector/mongoelector/bindings/go"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pairs:", err)
		os.Exit(2)
	}
}

// processCPU is the CPU time of the whole process so far, every thread, as
// bench/c/bench.h's process_cpu_ns reads it.
func processCPU() int64 {
	tasks, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil {
		return -1
	}
	var sum int64
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread ended meanwhile
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			if ns, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				sum += ns
			}
		}
	}
	return sum
}

func run(args []string) error {
	if len(args) != 5 {
		return fmt.Errorf("usage: pairs URI DB KEY PAIRS WARMUP")
	}
	pairs, err := strconv.Atoi(args[3])
	if err != nil || pairs < 1 {
		return fmt.Errorf("bad PAIRS %q", args[3])
	}
	warmup, err := strconv.Atoi(args[4])
	if err != nil || warmup < 0 {
		return fmt.Errorf("bad WARMUP %q", args[4])
	}
	client, err := mongoelector.NewClient(args[0])
	if err != nil {
		return err
	}
	defer client.Close()
	locker, err := client.NewLocker(args[1], args[2], &mongoelector.LockerOptions{
		TTL:            60 * time.Second,
		NoTimeParanoid: true,
	})
	if err != nil {
		return err
	}
	defer locker.Close() // on an early return; the explicit Close below reports its error
	ctx := context.Background()
	times := make([]int64, 0, pairs)
	var cpu0 int64
	for i := 0; i < warmup+pairs; i++ {
		if i == warmup {
			cpu0 = processCPU()
		}
		t0 := time.Now()
		if err := locker.Acquire(ctx, mongoelector.NonBlocking()); err != nil { // one attempt: the lock is free
			return err
		}
		if _, err := locker.Release(ctx); err != nil {
			return err
		}
		if i >= warmup {
			times = append(times, time.Since(t0).Nanoseconds())
		}
	}
	cpu := processCPU() - cpu0
	var sum float64
	for _, t := range times {
		sum += float64(t)
	}
	sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
	n := len(times)
	fmt.Printf("pairs %d %d %.0f %d\n", n, times[n/2], sum/float64(n), times[n*9/10])
	fmt.Printf("cpu %d\n", cpu/int64(pairs))
	return locker.Close()
}
