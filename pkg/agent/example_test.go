package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/selector"
)

// Example joins a trust domain with a join token and watches the identities
// of workloads running as uid 1000. A real agent hands Manager() to the
// Workload API server instead. Here no server answers, so the agent is
// neither attested nor ready when its context ends.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	dir, err := os.MkdirTemp("", "svidkit-agent") // /var/lib/svidkit/agent in production
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	a, err := agent.New(agent.Config{
		TrustDomain:       spiffeid.RequireTrustDomainFromString("example.org"),
		ServerAddress:     "spire-server.invalid:8081",
		InsecureBootstrap: true, // or TrustBundle: the server's CA certificates
		JoinToken:         "6a1b3c5e-0000-4000-8000-000000000000",
		DataDir:           dir,
		KeyStore:          agent.KeyStoreDisk,
		SyncInterval:      200 * time.Millisecond,
		Log:               log,
	})
	if err != nil {
		fmt.Println("configure agent:", err)
		return
	}
	go func() {
		select {
		case <-a.Attested():
		case <-ctx.Done():
			return
		}
		sub, err := a.Manager().Subscribe(ctx, selector.NewSet(selector.Selector{Type: "unix", Value: "uid:1000"}))
		if err != nil {
			return
		}
		defer sub.Finish()
		for u := range sub.Updates() {
			for _, id := range u.Identities {
				chain, err := id.Certificates()
				if err != nil {
					log.Error("identity", "spiffe_id", id.SPIFFEID, "error", err)
					continue
				}
				log.Info("identity", "spiffe_id", id.SPIFFEID, "expires", chain[0].NotAfter)
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	fmt.Println("ready:", a.Ready())
	cancel() // SIGINT/SIGTERM in the daemon
	fmt.Println("run:", <-done)
	// Output:
	// ready: false
	// run: <nil>
}

// ExampleK8sPSAT attests a Kubernetes node with the agent pod's projected
// service account token, as a DaemonSet agent does. The token file is read
// for every attestation, and since the server answers Reattestable the
// agent attests again at half life instead of renewing. Before its first
// attestation the agent is live (it has not failed yet) but not ready.
func ExampleK8sPSAT() {
	dir, err := os.MkdirTemp("", "svidkit-agent") // /run/spire/data in the DaemonSet
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	a, err := agent.New(agent.Config{
		TrustDomain:   spiffeid.RequireTrustDomainFromString("example.org"),
		ServerAddress: "spire-server.spire.svc:8081",
		NodeAttestor: agent.K8sPSAT{
			Cluster:   "demo-cluster",
			TokenPath: filepath.Join(dir, "token"), // /var/run/secrets/tokens/spire-agent
		},
		InsecureBootstrap: true, // or TrustBundle from the bundle ConfigMap
		DataDir:           dir,
		Log:               slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println("configure agent:", err)
		return
	}
	// Serve a.Live and a.Ready as the pod's liveness and readiness probes.
	fmt.Println("live:", a.Live(), "ready:", a.Ready())
	// Output: live: true ready: false
}
