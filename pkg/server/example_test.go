package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// Example shows the wiring of a server: a store, an authority, and the two
// endpoints (agents on BindAddress, the admin API on SocketPath). Run
// blocks until the context is cancelled (SIGINT/SIGTERM in the daemon).
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	dir, err := os.MkdirTemp("", "svidkit-server") // /var/lib/svidkit in production
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	store, err := sqlite.Open(ctx, filepath.Join(dir, "datastore.sqlite3"), log)
	if err != nil {
		fmt.Println("open store:", err)
		return
	}
	defer store.Close()
	authority, err := testca.New(td, nil) // production code uses pkg/server/ca
	if err != nil {
		fmt.Println("create CA:", err)
		return
	}
	srv, err := server.New(server.Config{
		TrustDomain: td,
		Store:       store,
		Authority:   authority,
		BindAddress: "127.0.0.1:0", // 0.0.0.0:8081 in production
		SocketPath:  filepath.Join(dir, "private", "api.sock"),
		Log:         log,
	})
	if err != nil {
		fmt.Println("configure server:", err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Listening():
		fmt.Println("listening")
	case err := <-done:
		fmt.Println("server failed:", err)
		return
	}
	cancel()
	fmt.Println("run:", <-done)
	// Output:
	// listening
	// run: <nil>
}
