package workloadapi_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/svidkit/svidkit/pkg/agent/workloadapi"
	"github.com/svidkit/svidkit/pkg/agent/workloadattest/unix"
	"github.com/svidkit/svidkit/pkg/procid"
	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

// calls runs every Workload API method once with ctx and returns its error.
func calls(raw workload.SpiffeWorkloadAPIClient) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"FetchX509SVID": func(ctx context.Context) error {
			s, err := raw.FetchX509SVID(ctx, &workload.X509SVIDRequest{})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		},
		"FetchX509Bundles": func(ctx context.Context) error {
			s, err := raw.FetchX509Bundles(ctx, &workload.X509BundlesRequest{})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		},
		"FetchJWTBundles": func(ctx context.Context) error {
			s, err := raw.FetchJWTBundles(ctx, &workload.JWTBundlesRequest{})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		},
		"FetchJWTSVID": func(ctx context.Context) error {
			_, err := raw.FetchJWTSVID(ctx, &workload.JWTSVIDRequest{Audience: []string{"db"}})
			return err
		},
		"ValidateJWTSVID": func(ctx context.Context) error {
			_, err := raw.ValidateJWTSVID(ctx, &workload.ValidateJWTSVIDRequest{Audience: "db", Svid: "x.y.z"})
			return err
		},
	}
}

func TestSecurityHeaderMissing(t *testing.T) {
	ca := newTestCA(t, "example.org")
	e := serve(t, newFakeManager(ca, fakeEntry{sels: selfSels(), id: ca.identity("/web", "")}), &fakeAttestor{})
	headers := []struct {
		name string
		ctx  func(context.Context) context.Context
	}{
		{"absent", func(ctx context.Context) context.Context { return ctx }},
		{"false", func(ctx context.Context) context.Context {
			return metadata.AppendToOutgoingContext(ctx, "workload.spiffe.io", "false")
		}},
	}
	for method, call := range calls(e.raw(t)) {
		for _, h := range headers {
			t.Run(method+"/"+h.name, func(t *testing.T) {
				err := call(h.ctx(testCtx(t)))
				if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != "security header missing from request" {
					t.Fatalf("err = %v, want InvalidArgument \"security header missing from request\"", err)
				}
			})
		}
	}
}

func TestAttestationFailure(t *testing.T) {
	ca := newTestCA(t, "example.org")
	e := serve(t, newFakeManager(ca, fakeEntry{sels: selfSels(), id: ca.identity("/web", "")}), &fakeAttestor{err: errAttest})
	for method, call := range calls(e.raw(t)) {
		t.Run(method, func(t *testing.T) {
			if err := call(withHeader(testCtx(t))); status.Code(err) != codes.Internal {
				t.Fatalf("err = %v, want Internal", err)
			}
		})
	}
}

// TestWithUnixAttestor serves the real unix attestor: an entry keyed on
// this process's uid and binary digest matches it.
func TestWithUnixAttestor(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	att := unix.New(unix.Config{})
	p, err := procid.OpenPID("/proc", int32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	self, err := att.Attest(context.Background(), p, uint32(os.Getuid()), uint32(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	var digest selector.Selector
	for _, s := range self {
		if strings.HasPrefix(s.Value, "sha256:") {
			digest = s
		}
	}
	uid := selector.Selector{Type: "unix", Value: "uid:" + strconv.Itoa(os.Getuid())}
	path := selector.Selector{Type: "unix", Value: "path:" + exe}

	tests := []struct {
		name     string
		entry    selector.Set
		wantCode codes.Code
	}{
		{"uid and digest match", selector.NewSet(uid, digest), codes.OK},
		{"uid and path match", selector.NewSet(uid, path), codes.OK},
		{"other binary", selector.NewSet(uid, selector.Selector{Type: "unix", Value: "sha256:00"}), codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := newTestCA(t, "example.org")
			e := serve(t, newFakeManager(ca, fakeEntry{sels: tt.entry, id: ca.identity("/web", "")}), att)
			_, err := e.client(t).FetchX509SVID(testCtx(t))
			if status.Code(err) != tt.wantCode {
				t.Fatalf("err = %v, want %v", err, tt.wantCode)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	ca := newTestCA(t, "example.org")
	e := serve(t, newFakeManager(ca, fakeEntry{sels: selfSels(), id: ca.identity("/web", "")}), &fakeAttestor{})
	c := e.client(t)
	if _, err := c.FetchX509SVID(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FetchJWTSVID(testCtx(t), jwtsvid.Params{Audience: "db"}); err != nil {
		t.Fatal(err)
	}
	families, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[f.GetName()] += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[f.GetName()] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	tests := []struct {
		name string
		min  float64
	}{
		{"svidkit_workloadapi_updates_sent_total", 1},
		{"svidkit_workloadapi_attestation_duration_seconds", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got[tt.name] < tt.min {
				t.Errorf("%s = %v, want >= %v", tt.name, got[tt.name], tt.min)
			}
		})
	}
}

func TestNewRequiresManagerAndAttestor(t *testing.T) {
	lis, err := workloadapi.ListenUnix(context.Background(), shortDir(t)+"/s.sock", unixsock.Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = workloadapi.New(workloadapi.Config{}).Serve(context.Background(), lis)
	if err == nil {
		t.Fatal("Serve with an empty Config succeeded")
	}
	for _, field := range []string{"Manager", "Attestor"} {
		t.Run(field, func(t *testing.T) {
			if !strings.Contains(err.Error(), field) {
				t.Errorf("error %q does not name %s", err, field)
			}
		})
	}
}
