package servercli_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	bundlev1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/bundle/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/servercli"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// fakeAdmin is a minimal in-memory admin API: it records every request and
// answers from fixed data.
type fakeAdmin struct {
	entryv1.UnimplementedEntryServer
	agentv1.UnimplementedAgentServer
	bundlev1.UnimplementedBundleServer

	health *health.Server

	mu       sync.Mutex
	requests map[string][]proto.Message
	entries  []*types.Entry
	agents   []*types.Agent
	bundle   *types.Bundle
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
	path := filepath.Join(dir, "api.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAdmin{health: health.NewServer(), requests: make(map[string][]proto.Message)}
	if seed != nil {
		seed(f)
	}
	srv := grpc.NewServer()
	entryv1.RegisterEntryServer(srv, f)
	agentv1.RegisterAgentServer(srv, f)
	bundlev1.RegisterBundleServer(srv, f)
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
	return f, path
}

func (f *fakeAdmin) record(method string, req proto.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[method] = append(f.requests[method], proto.Clone(req))
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

func (f *fakeAdmin) BatchCreateEntry(_ context.Context, req *entryv1.BatchCreateEntryRequest) (*entryv1.BatchCreateEntryResponse, error) {
	f.record("BatchCreateEntry", req)
	resp := &entryv1.BatchCreateEntryResponse{}
	for i, e := range req.Entries {
		if e.GetSpiffeId().GetPath() == "/dup" {
			resp.Results = append(resp.Results, &entryv1.BatchCreateEntryResponse_Result{
				Status: &types.Status{Code: int32(codes.AlreadyExists), Message: "similar entry already exists"},
			})
			continue
		}
		created := proto.Clone(e).(*types.Entry)
		created.Id = "id-" + strconv.Itoa(i)
		resp.Results = append(resp.Results, &entryv1.BatchCreateEntryResponse_Result{
			Status: &types.Status{Message: "OK"}, Entry: created,
		})
	}
	return resp, nil
}

func (f *fakeAdmin) BatchUpdateEntry(_ context.Context, req *entryv1.BatchUpdateEntryRequest) (*entryv1.BatchUpdateEntryResponse, error) {
	f.record("BatchUpdateEntry", req)
	resp := &entryv1.BatchUpdateEntryResponse{}
	for _, e := range req.Entries {
		updated := proto.Clone(e).(*types.Entry)
		updated.RevisionNumber = 1
		resp.Results = append(resp.Results, &entryv1.BatchUpdateEntryResponse_Result{
			Status: &types.Status{Message: "OK"}, Entry: updated,
		})
	}
	return resp, nil
}

func (f *fakeAdmin) BatchDeleteEntry(_ context.Context, req *entryv1.BatchDeleteEntryRequest) (*entryv1.BatchDeleteEntryResponse, error) {
	f.record("BatchDeleteEntry", req)
	resp := &entryv1.BatchDeleteEntryResponse{}
	for _, id := range req.Ids {
		st := &types.Status{Message: "OK"}
		if id == "missing" {
			st = &types.Status{Code: int32(codes.NotFound), Message: "entry not found"}
		}
		resp.Results = append(resp.Results, &entryv1.BatchDeleteEntryResponse_Result{Status: st, Id: id})
	}
	return resp, nil
}

// ListEntries returns one entry per page, to exercise paging.
func (f *fakeAdmin) ListEntries(_ context.Context, req *entryv1.ListEntriesRequest) (*entryv1.ListEntriesResponse, error) {
	f.record("ListEntries", req)
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

func (f *fakeAdmin) GetEntry(_ context.Context, req *entryv1.GetEntryRequest) (*types.Entry, error) {
	f.record("GetEntry", req)
	for _, e := range f.entries {
		if e.Id == req.Id {
			return e, nil
		}
	}
	return nil, status.Error(codes.NotFound, "entry not found")
}

func (f *fakeAdmin) CountEntries(_ context.Context, req *entryv1.CountEntriesRequest) (*entryv1.CountEntriesResponse, error) {
	f.record("CountEntries", req)
	return &entryv1.CountEntriesResponse{Count: int32(len(f.entries))}, nil
}

func (f *fakeAdmin) CreateJoinToken(_ context.Context, req *agentv1.CreateJoinTokenRequest) (*types.JoinToken, error) {
	f.record("CreateJoinToken", req)
	return &types.JoinToken{Value: "2f5c1a8e-token", ExpiresAt: 1700000600}, nil
}

func (f *fakeAdmin) ListAgents(_ context.Context, req *agentv1.ListAgentsRequest) (*agentv1.ListAgentsResponse, error) {
	f.record("ListAgents", req)
	return &agentv1.ListAgentsResponse{Agents: f.agents}, nil
}

func (f *fakeAdmin) GetAgent(_ context.Context, req *agentv1.GetAgentRequest) (*types.Agent, error) {
	f.record("GetAgent", req)
	for _, a := range f.agents {
		if proto.Equal(a.Id, req.Id) {
			return a, nil
		}
	}
	return nil, status.Error(codes.NotFound, "agent not found")
}

func (f *fakeAdmin) BanAgent(_ context.Context, req *agentv1.BanAgentRequest) (*emptypb.Empty, error) {
	f.record("BanAgent", req)
	return &emptypb.Empty{}, nil
}

func (f *fakeAdmin) DeleteAgent(_ context.Context, req *agentv1.DeleteAgentRequest) (*emptypb.Empty, error) {
	f.record("DeleteAgent", req)
	return &emptypb.Empty{}, nil
}

func (f *fakeAdmin) GetBundle(_ context.Context, req *bundlev1.GetBundleRequest) (*types.Bundle, error) {
	f.record("GetBundle", req)
	return f.bundle, nil
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
