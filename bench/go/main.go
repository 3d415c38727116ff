// Command pairs times uncontended Acquire+Release pairs through the Go binding.
//
//	pairs URI DB KEY PAIRS WARMUP
//
// Prints "pairs N median_ns mean_ns p90_ns", as bench/c/pairs.c does.
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	mongoelector "github.com/mongoelector/mongoelector/bindings/go"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pairs:", err)
		os.Exit(2)
	}
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
	locker, err := client.NewLocker(args[1], args[2], &mongoelector.LockerOptions{TTL: 60 * time.Second, NoTimeParanoid: true})
	if err != nil {
		return err
	}
	defer locker.Close()
	ctx := context.Background()
	times := make([]int64, 0, pairs)
	for i := 0; i < warmup+pairs; i++ {
		t0 := time.Now()
		if err := locker.Acquire(ctx, mongoelector.NonBlocking()); err != nil {
			return err
		}
		if err := locker.Release(); err != nil {
			return err
		}
		if i >= warmup {
			times = append(times, time.Since(t0).Nanoseconds())
		}
	}
	var sum float64
	for _, t := range times {
		sum += float64(t)
	}
	sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
	n := len(times)
	fmt.Printf("pairs %d %d %.0f %d\n", n, times[n/2], sum/float64(n), times[n*9/10])
	return nil
}
