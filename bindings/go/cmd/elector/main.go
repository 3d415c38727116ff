// Command elector is the Go version of the cross-language leader elector:
//
//	elector URI DB KEY TTL_S RUN_S
//
// It runs an elector on KEY with ttl TTL_S (float seconds) for RUN_S seconds
// (0 = until SIGTERM/SIGINT), printing "leader go <pid> <mono_ns>" from
// OnLeader and "loss go <pid> <mono_ns>" from OnLeaderLoss, then stops the
// elector (which releases leadership and fires the loss if leading) and exits 0.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	mongoelector "github.com/mongoelector/mongoelector/bindings/go"
	"github.com/mongoelector/mongoelector/bindings/go/internal/monoclock"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "elector:", err)
		os.Exit(1)
	}
}

func event(kind string) {
	// os.Stdout is unbuffered: one write(2) per line.
	fmt.Fprintf(os.Stdout, "%s go %d %d\n", kind, os.Getpid(), monoclock.Now())
}

func run(args []string) error {
	if len(args) != 5 {
		return fmt.Errorf("usage: elector URI DB KEY TTL_S RUN_S")
	}
	uri, db, key := args[0], args[1], args[2]
	ttl, err := strconv.ParseFloat(args[3], 64)
	if err != nil {
		return fmt.Errorf("bad TTL_S %q", args[3])
	}
	runFor, err := strconv.ParseFloat(args[4], 64)
	if err != nil || runFor < 0 {
		return fmt.Errorf("bad RUN_S %q", args[4])
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(runFor*float64(time.Second)))
		defer cancel()
	}

	client, err := mongoelector.NewClient(uri)
	if err != nil {
		return err
	}
	defer client.Close()
	elector, err := client.NewElector(db, key, &mongoelector.ElectorOptions{
		TTL:          time.Duration(ttl * float64(time.Second)),
		OnLeader:     func() { event("leader") },
		OnLeaderLoss: func() { event("loss") },
	})
	if err != nil {
		return err
	}
	if err := elector.Start(); err != nil {
		elector.Close()
		return err
	}
	<-ctx.Done()
	err = elector.Stop()
	elector.Close()
	return err
}
