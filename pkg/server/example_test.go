package server_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// Example shows the wiring of a server: a store, an authority, and the two
// endpoints. Run blocks until the context is cancelled.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.Default()

	store, err := sqlite.Open(ctx, "/var/lib/svidkit/datastore.sqlite3", log)
	if err != nil {
		log.Error("open store", "error", err)
		return
	}
	defer store.Close()
	authority, err := testca.New(td, nil) // production code uses pkg/server/ca
	if err != nil {
		log.Error("create CA", "error", err)
		return
	}
	srv, err := server.New(server.Config{
		TrustDomain: td,
		Store:       store,
		Authority:   authority,
		BindAddress: "0.0.0.0:8081",
		SocketPath:  "/tmp/svidkit-server/private/api.sock",
		Log:         log,
	})
	if err != nil {
		log.Error("configure server", "error", err)
		return
	}
	if err := srv.Run(ctx); err != nil {
		log.Error("server failed", "error", err)
	}
}
