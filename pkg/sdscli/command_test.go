package sdscli_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/internal/fakeworkloadapi"
	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/sdscli"
)

const waitTimeout = 10 * time.Second

// syncBuffer is a bytes.Buffer safe for the daemon's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs svidkit-sds with args until the test ends.
func start(t *testing.T, env map[string]string, args ...string) *syncBuffer {
	t.Helper()
	out := &syncBuffer{}
	root := sdscli.NewCommand(sdscli.Options{Stdout: out, Stderr: out, Getenv: func(k string) string { return env[k] }})
	root.SetArgs(cliargs.Normalize(args))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v on cancel, want nil\n%s", err, out)
			}
		case <-time.After(waitTimeout):
			t.Errorf("run did not stop on cancel\n%s", out)
		}
	})
	return out
}

// fetchDefault asks SDS at addr for "default" until it is served.
func fetchDefault(t *testing.T, target string, out fmt.Stringer) *discoveryv3.DiscoveryResponse {
	t.Helper()
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := secretv3.NewSecretDiscoveryServiceClient(conn)
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		resp, err := client.FetchSecrets(ctx, &discoveryv3.DiscoveryRequest{ResourceNames: []string{"default"}}, grpc.WaitForReady(true))
		cancel()
		if err == nil && len(resp.Resources) == 1 {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("FetchSecrets(default) never succeeded: %v\n%s", err, out)
		}
		time.Sleep(20 * time.Millisecond) // poll: FetchSecrets cannot wait
	}
}

func TestRunWithFlagsOnly(t *testing.T) {
	ca := testca.NewForTest(t, "cli.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/envoy", ""))
	sdsSock := filepath.Join(filepath.Dir(fakeworkloadapi.SocketPath(t, "x")), "sub", "sds.sock")

	out := start(t, nil, "run", "-agent-address", api.Socket(), "-listen", sdsSock, "-listen", "127.0.0.1:0", "-allow-insecure-tcp", "-listen-socket-mode", "0600")
	fetchDefault(t, "unix://"+sdsSock, out)

	fi, err := os.Stat(sdsSock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %#o, want 0600", fi.Mode().Perm())
	}
}

func TestRunWithEnvAndConfigFile(t *testing.T) {
	ca := testca.NewForTest(t, "cli.test")
	api := fakeworkloadapi.Start(t, fakeworkloadapi.SocketPath(t, "api.sock"))
	api.SetX509SVIDs(fakeworkloadapi.X509SVID(t, ca, "/envoy", ""))
	dir := filepath.Dir(fakeworkloadapi.SocketPath(t, "x"))
	sdsSock := filepath.Join(dir, "sds.sock")
	healthAddr := freeport.Addr(t)
	conf := filepath.Join(dir, "sds.conf")
	host, port, _ := net.SplitHostPort(healthAddr)
	writeFile(t, conf, fmt.Sprintf(`
listen_address = %q
health_checks {
  listener_enabled = true
  bind_address = %q
  bind_port = %s
}
`, sdsSock, host, port))

	out := start(t, map[string]string{"SPIFFE_ENDPOINT_SOCKET": "unix://" + api.Socket()}, "run", "-config", conf)
	fetchDefault(t, "unix://"+sdsSock, out)

	fi, err := os.Stat(sdsSock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode = %#o, want the default 0660", fi.Mode().Perm())
	}
	for path, want := range map[string]string{"/live": `"live":true`, "/ready": `"ready":true`, "/metrics": "svidkit_sds_bridge_workload_api_updates_total"} {
		body := get(t, "http://"+healthAddr+path)
		if !strings.Contains(body, want) {
			t.Errorf("GET %s = %q, want it to contain %q", path, body, want)
		}
	}
}

func TestRunRejectsBadSettings(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	writeFile(t, bad, "agent_address = \"/a.sock\"\nlisten = \"/b.sock\"\n")
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{name: "no agent address", args: []string{"run", "-listen", "/tmp/x.sock"}, wantErr: "agent_address"},
		{name: "public TCP", args: []string{"run", "-agent-address", "/a.sock", "-listen", "0.0.0.0:8234"}, wantErr: "loopback only"},
		{name: "unknown key in file", args: []string{"run", "-config", bad}, wantErr: "bad.conf:2: unknown key \"listen\""},
		{name: "bad mode flag", args: []string{"run", "-agent-address", "/a.sock", "-listen-socket-mode", "rw"}, wantErr: "-listen-socket-mode"},
		{name: "bad log level", args: []string{"run", "-agent-address", "/a.sock", "-listen", filepath.Join(dir, "s.sock"), "-log-level", "LOUD"}, wantErr: "log_level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			root := sdscli.NewCommand(sdscli.Options{Stdout: &out, Stderr: &out, Getenv: func(k string) string { return tt.env[k] }})
			root.SetArgs(cliargs.Normalize(tt.args))
			err := root.ExecuteContext(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			root := sdscli.NewCommand(sdscli.Options{Version: "v1.2.3 (commit abc)", Stdout: &out, Stderr: &out})
			root.SetArgs(args)
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			if out.String() != "v1.2.3 (commit abc)\n" {
				t.Fatalf("version printed %q", out.String())
			}
		})
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// get returns the body of url, retrying until the listener is up.
func get(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			defer resp.Body.Close()
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			return b.String()
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond) // poll: the listener starts asynchronously
	}
}
