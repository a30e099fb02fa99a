package sdsbridge_test

import (
	"context"
	"log"
	"net"

	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/sds"
	"github.com/svidkit/svidkit/pkg/sdsbridge"
)

// A bridge feeds an SDS server: every Envoy stream gets the identities of
// the workload the bridge runs as.
func Example() {
	ctx := context.Background()
	bridge, err := sdsbridge.New(sdsbridge.Config{Address: "unix:///run/svidkit/agent/api.sock"})
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	sds.New(sds.Config{Source: bridge}).Register(srv)
	ln, err := net.Listen("unix", "/run/svidkit-sds/sds.sock")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = bridge.Run(ctx) }()
	log.Fatal(srv.Serve(ln))
}
