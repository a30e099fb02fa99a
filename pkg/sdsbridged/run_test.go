package sdsbridged_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/svidkit/svidkit/pkg/logging"
	"github.com/svidkit/svidkit/pkg/sdsbridge/sdsconfig"
	"github.com/svidkit/svidkit/pkg/sdsbridged"
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

// loadConfig writes hcl to a file in dir, decodes and validates it as
// svidkit-sds does with -config, and returns the configuration.
func loadConfig(t *testing.T, dir, hcl string) sdsconfig.Config {
	t.Helper()
	path := filepath.Join(dir, "sds.conf")
	if err := os.WriteFile(path, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := sdsconfig.Decode(path, []byte(hcl))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newLog returns a text logger at INFO writing to out, the bridge's
// default log settings.
func newLog(t *testing.T, out *syncBuffer) sdsbridged.Options {
	t.Helper()
	log, err := logging.New(out, sdsconfig.DefaultLogLevel, sdsconfig.DefaultLogFormat)
	if err != nil {
		t.Fatal(err)
	}
	return sdsbridged.Options{Log: log}
}

// start runs the bridge with cfg until the test ends.
func start(t *testing.T, cfg sdsconfig.Config) *syncBuffer {
	t.Helper()
	out := &syncBuffer{}
	opts := newLog(t, out)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sdsbridged.Run(ctx, cfg, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v on cancel, want nil\n%s", err, out)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Run did not stop on cancel\n%s", out)
		}
	})
	return out
}

// fetchDefault asks SDS at target for "default" until it is served.
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
