package sockwatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/svidkit/svidkit/pkg/sockwatch"
)

// A Workload API client reconnects as soon as the agent's socket is
// (re)created and accepts connections, instead of waiting out its backoff.
// ReportExisting makes the socket already there count too.
func Example() {
	dir, err := os.MkdirTemp("", "sockwatch-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "agent.sock")
	agent, err := net.Listen("unix", sock) // the agent's Workload API socket
	if err != nil {
		fmt.Println(err)
		return
	}
	defer agent.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := sockwatch.New("unix://"+sock, sockwatch.ReportExisting(), sockwatch.WithLogger(slog.New(slog.DiscardHandler)))
	go func() { _ = w.Run(ctx) }()

	<-w.Changed()
	fmt.Println("agent socket accepts connections: reconnect now")
	// Output: agent socket accepts connections: reconnect now
}
