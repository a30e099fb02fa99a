package workloadapi_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	gowl "github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

// waitTimeout bounds every wait for an event in these tests.
const waitTimeout = 5 * time.Second

// env is a Workload API served on a real Unix socket.
type env struct {
	sock string
	addr string
	reg  *prometheus.Registry
}

// shortDir returns a temp dir short enough for a Unix socket path.
func shortDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "wl")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// serve starts a Handler for mgr and att; cleanup stops it and checks that
// Serve returned nil.
func serve(tb testing.TB, mgr workloadapi.Manager, att workloadapi.Attestor) *env {
	tb.Helper()
	e := &env{sock: filepath.Join(shortDir(tb), "api.sock"), reg: prometheus.NewRegistry()}
	e.addr = "unix://" + e.sock
	lis, err := workloadapi.ListenUnix(context.Background(), e.sock, unixsock.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	h := workloadapi.New(workloadapi.Config{
		Manager:    mgr,
		Attestor:   att,
		Registerer: e.reg,
		Log:        slog.New(slog.NewTextHandler(tb.Output(), nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, lis) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Serve: %v", err)
			}
		case <-time.After(waitTimeout):
			tb.Errorf("Serve did not return after cancel")
		}
	})
	return e
}

// client returns a go-spiffe Workload API client.
func (e *env) client(tb testing.TB) *gowl.Client {
	tb.Helper()
	c, err := gowl.New(context.Background(), gowl.WithAddr(e.addr))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// raw returns the generated client, which sends no security header.
func (e *env) raw(tb testing.TB) workload.SpiffeWorkloadAPIClient {
	tb.Helper()
	conn, err := grpc.NewClient(e.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return workload.NewSpiffeWorkloadAPIClient(conn)
}

// withHeader adds the Workload API security header to ctx.
func withHeader(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "workload.spiffe.io", "true")
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	tb.Cleanup(cancel)
	return ctx
}
