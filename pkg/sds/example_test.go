package sds_test

import (
	"context"
	"log/slog"
	"net"
	"os"

	"google.golang.org/grpc"

	"github.com/svidkit/svidkit/pkg/sds"
)

// The bridge serves SDS on a socket of its own; src is its Workload API
// client.
func ExampleHandler_Serve() {
	var src sds.Source // e.g. the bridge's Workload API client
	h := sds.New(sds.Config{Source: src, Log: slog.Default()})
	lis, err := net.Listen("unix", "/run/svidkit/sds.sock")
	if err != nil {
		return
	}
	_ = os.Chmod("/run/svidkit/sds.sock", 0o660)
	_ = h.Serve(context.Background(), lis)
}

// The agent adds SDS to the gRPC server of its Workload API socket, as
// SPIRE's agent does.
func ExampleHandler_Register() {
	var src sds.Source // e.g. the agent's attesting cache source
	workloadAPI := grpc.NewServer()
	sds.New(sds.Config{Source: src, DisableSPIFFECertValidation: false}).Register(workloadAPI)
}
