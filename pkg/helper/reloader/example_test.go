package reloader_test

import (
	"context"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/svidkit/svidkit/pkg/helper/reloader"
)

// A helper starts nginx after the first write of the certificate files and
// sends it SIGHUP after each later write.
func Example() {
	r, err := reloader.New(reloader.Config{
		Cmd:     "nginx",
		Args:    []string{"-g", "daemon off;"},
		Signal:  syscall.SIGHUP,
		Restart: reloader.RestartOnFailure,
		Log:     slog.Default(),
	})
	if err != nil {
		slog.Error("reloader", "error", err)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	// The file writer calls r.Notify after every successful write; a
	// Notify before Run is kept until Run starts.
	r.Notify()
	if err := r.Run(ctx); err != nil {
		slog.Error("reloader", "error", err)
	}
}
