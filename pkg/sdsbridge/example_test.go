package sdsbridge_test

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/sds"
	"github.com/svidkit/svidkit/pkg/sdsbridge"
)

// A bridge feeds an SDS server: every Envoy stream gets the identities of
// the workload the bridge runs as. svidkit-sds serves srv on its own socket
// (sds.Handler.Serve) while bridge.Run keeps the Workload API watch; the
// bridge is ready once the agent has sent it an SVID.
func Example() {
	bridge, err := sdsbridge.New(sdsbridge.Config{
		Address: "unix:///run/svidkit/agent/api.sock",
		Log:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := grpc.NewServer()
	sds.New(sds.Config{Source: bridge}).Register(srv)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bridge.Run(ctx) }()
	fmt.Println("ready before the first SVID:", bridge.Ready())
	cancel()
	fmt.Println("run:", <-done)
	// Output:
	// ready before the first SVID: false
	// run: <nil>
}
