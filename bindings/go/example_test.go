package mongoelector_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	mongoelector "github.com/mongoelector/mongoelector/bindings/go"
)

// The examples read the server's URI from MONGODB_URI (the tests set it).

func ExampleLocker() {
	client, err := mongoelector.NewClient(os.Getenv("MONGODB_URI"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	locker, err := client.NewLocker("example_go", "my-resource", &mongoelector.LockerOptions{TTL: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer locker.Close()

	// Wait for the lock at most 10 seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := locker.Acquire(ctx); err != nil {
		log.Fatal(err)
	}
	// ... work while holding the lock; pass locker.Fence() to the resource ...
	fmt.Println("holding the lock:", locker.Fence() > 0)
	if _, err := locker.Release(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: holding the lock: true
}

func ExampleLocker_Acquire_nonBlocking() {
	client, err := mongoelector.NewClient(os.Getenv("MONGODB_URI"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	holder, _ := client.NewLocker("example_go", "busy-resource", nil)
	defer holder.Close()
	other, _ := client.NewLocker("example_go", "busy-resource", nil)
	defer other.Close()

	if err := holder.Acquire(context.Background()); err != nil {
		log.Fatal(err)
	}
	err = other.Acquire(context.Background(), mongoelector.NonBlocking())
	fmt.Println("lock exists:", errors.Is(err, mongoelector.ErrLockExists))

	err = other.Acquire(context.Background(), mongoelector.Timeout(500*time.Millisecond))
	fmt.Println("acquire timeout:", errors.Is(err, mongoelector.ErrAcquireTimeout))
	// Output:
	// lock exists: true
	// acquire timeout: true
}

func ExampleElector() {
	client, err := mongoelector.NewClient(os.Getenv("MONGODB_URI"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	leading := make(chan struct{}, 1)
	elector, err := client.NewElector("example_go", "my-service", &mongoelector.ElectorOptions{
		TTL:          15 * time.Second,
		OnLeader:     func() { leading <- struct{}{} },
		OnLeaderLoss: func() { fmt.Println("no longer the leader") },
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := elector.Start(); err != nil {
		log.Fatal(err)
	}
	<-leading
	fmt.Println("leader:", elector.IsLeader())

	// Close stops the elector and releases leadership (firing OnLeaderLoss).
	if err := elector.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// leader: true
	// no longer the leader
}
