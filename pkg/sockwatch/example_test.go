package sockwatch_test

import (
	"context"
	"log/slog"

	"github.com/svidkit/svidkit/pkg/sockwatch"
)

// A Workload API client reconnects as soon as the agent's socket is
// recreated instead of waiting out its backoff.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := sockwatch.New("unix:///run/spire/agent.sock", sockwatch.WithLogger(slog.Default()))
	go func() { _ = w.Run(ctx) }()

	reconnect := func() {}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.Changed():
				reconnect()
			}
		}
	}()
}
