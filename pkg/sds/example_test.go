package sds_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/sds"
)

// noIdentity is a Source for a workload that has no identity (yet).
type noIdentity struct{}

func (noIdentity) Watch(context.Context) (sds.Watch, error) {
	return nil, status.Error(codes.PermissionDenied, "no identity issued")
}

// The bridge serves SDS on a socket of its own; src is its Workload API
// client. Here src knows no identity, so the example shows the serving, an
// error reaching Envoy, and the shutdown.
func ExampleHandler_Serve() {
	var src sds.Source = noIdentity{} // e.g. the bridge's Workload API client
	h := sds.New(sds.Config{Source: src, Log: slog.New(slog.DiscardHandler)})

	dir, err := os.MkdirTemp("", "sds-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "sds.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- h.Serve(ctx, lis) }()

	// Envoy's side of the socket.
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	_, err = secretv3.NewSecretDiscoveryServiceClient(conn).FetchSecrets(ctx, &discoveryv3.DiscoveryRequest{ResourceNames: []string{"default"}})
	fmt.Println("FetchSecrets:", status.Code(err), status.Convert(err).Message())

	cancel()
	fmt.Println("Serve:", <-served)
	// Output:
	// FetchSecrets: PermissionDenied no identity issued
	// Serve: <nil>
}

// The agent adds SDS to the gRPC server of its Workload API socket, as
// SPIRE's agent does.
func ExampleHandler_Register() {
	var src sds.Source // e.g. the agent's attesting cache source
	workloadAPI := grpc.NewServer()
	sds.New(sds.Config{Source: src, DisableSPIFFECertValidation: false}).Register(workloadAPI)
	for name := range workloadAPI.GetServiceInfo() {
		fmt.Println(name)
	}
	// Output: envoy.service.secret.v3.SecretDiscoveryService
}
