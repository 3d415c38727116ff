// Command ferretdb-runner runs an embedded FerretDB v1 (SQLite backend) as the
// test and demo server of mongoelector. It prints the server's mongodb:// URI
// as the first stdout line once the port is bound, and stops on SIGTERM/SIGINT.
//
// It embeds FerretDB through its public package instead of building
// FerretDB's own cmd/ferretdb, which panics at start-up when built from the
// module proxy (its version.txt is not in the module zip).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen-addr", "127.0.0.1:0", "TCP listen address; port 0 picks a free port")
	tlsAddr := flag.String("listen-tls", "", "TLS listen address (needs -tls-cert and -tls-key); replaces the plain TCP listener")
	tlsCert := flag.String("tls-cert", "", "PEM certificate file for -listen-tls")
	tlsKey := flag.String("tls-key", "", "PEM key file for -listen-tls")
	dir := flag.String("sqlite-dir", "", "directory for the SQLite files (created if missing)")
	level := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	if *dir == "" {
		log.Fatal("-sqlite-dir is required")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		log.Fatal(err)
	}
	if err = os.MkdirAll(abs, 0o755); err != nil { // FerretDB requires an existing directory
		log.Fatal(err)
	}
	var lvl slog.Level
	if err = lvl.UnmarshalText([]byte(*level)); err != nil {
		log.Fatal(err)
	}

	listener := ferretdb.ListenerConfig{TCP: *addr}
	if *tlsAddr != "" {
		listener = ferretdb.ListenerConfig{TLS: *tlsAddr, TLSCertFile: *tlsCert, TLSKeyFile: *tlsKey}
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  listener,
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})),
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/", // must start with file: and end with /
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	fmt.Println(f.MongoDBURI())
	if err = <-done; err != nil {
		log.Fatal(err)
	}
}
