package servercli_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/servercli"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
)

// fakeAdmin is an admin API that injects what a real server does not do
// on demand: a health status other than SERVING, a list of entries paged
// one entry at a time. It records every request, so tests can also prove
// that none was sent. Every command is tested against the real server in
// internal/e2e (TestServerCLI); only those faults are tested here.
type fakeAdmin struct {
	entryv1.UnimplementedEntryServer

	health *health.Server

	mu       sync.Mutex
	requests map[string][]proto.Message
	entries  []*types.Entry
}

// startFake serves a fakeAdmin, filled in by seed (may be nil) before it
// starts serving, on a fresh Unix socket and returns both.
func startFake(t *testing.T, seed func(*fakeAdmin)) (*fakeAdmin, string) {
	t.Helper()
	// Unix socket paths are limited to ~108 bytes; t.TempDir can be longer.
	dir, err := os.MkdirTemp("", "sk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAdmin{health: health.NewServer(), requests: make(map[string][]proto.Message)}
	if seed != nil {
		seed(f)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(f.record))
	entryv1.RegisterEntryServer(srv, f)
	healthpb.RegisterHealthServer(srv, f.health)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return f, sock
}

// record is a unary interceptor that records every request under its
// method's short name ("ListEntries"), implemented or not.
func (f *fakeAdmin) record(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok {
		f.mu.Lock()
		method := path.Base(info.FullMethod)
		f.requests[method] = append(f.requests[method], proto.Clone(m))
		f.mu.Unlock()
	}
	return handler(ctx, req)
}

// last returns the last request recorded for method, or nil.
func (f *fakeAdmin) last(method string) proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	reqs := f.requests[method]
	if len(reqs) == 0 {
		return nil
	}
	return reqs[len(reqs)-1]
}

func (f *fakeAdmin) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		n += len(r)
	}
	return n
}

// ListEntries returns one entry per page, to exercise paging.
func (f *fakeAdmin) ListEntries(_ context.Context, req *entryv1.ListEntriesRequest) (*entryv1.ListEntriesResponse, error) {
	i := 0
	if req.PageToken != "" {
		i, _ = strconv.Atoi(req.PageToken)
	}
	if i >= len(f.entries) {
		return &entryv1.ListEntriesResponse{}, nil
	}
	resp := &entryv1.ListEntriesResponse{Entries: []*types.Entry{f.entries[i]}}
	if i+1 < len(f.entries) {
		resp.NextPageToken = strconv.Itoa(i + 1)
	}
	return resp, nil
}

// run executes the CLI with args as main would and captures its output.
func run(t *testing.T, opts servercli.Options, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	root := servercli.New(opts)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(bytes.NewReader(nil))
	code = cliargs.Execute(context.Background(), root, args)
	return code, out.String(), errOut.String()
}
