package agent_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/agent"
	"github.com/svidkit/svidkit/pkg/selector"
)

// Example joins a trust domain with a join token and watches the identities
// of workloads running as uid 1000. A real agent hands Manager() to the
// Workload API server instead.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.Default()

	a, err := agent.New(agent.Config{
		TrustDomain:       spiffeid.RequireTrustDomainFromString("example.org"),
		ServerAddress:     "spire-server.example.org:8081",
		InsecureBootstrap: true, // or TrustBundle: the server's CA certificates
		JoinToken:         "6a1b3c5e-0000-4000-8000-000000000000",
		DataDir:           "/var/lib/svidkit/agent",
		KeyStore:          agent.KeyStoreDisk,
		SyncInterval:      200 * time.Millisecond,
		Log:               log,
	})
	if err != nil {
		log.Error("configure agent", "error", err)
		return
	}
	go func() {
		<-a.Attested()
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
	if err := a.Run(ctx); err != nil {
		log.Error("agent failed", "error", err)
	}
}

// ExampleK8sPSAT attests a Kubernetes node with the agent pod's projected
// service account token, as a DaemonSet agent does. The token file is read
// for every attestation, and since the server answers Reattestable the
// agent attests again at half life instead of renewing.
func ExampleK8sPSAT() {
	a, err := agent.New(agent.Config{
		TrustDomain:   spiffeid.RequireTrustDomainFromString("example.org"),
		ServerAddress: "spire-server.spire.svc:8081",
		NodeAttestor: agent.K8sPSAT{
			Cluster:   "demo-cluster",
			TokenPath: "/var/run/secrets/tokens/spire-agent",
		},
		InsecureBootstrap: true, // or TrustBundle from the bundle ConfigMap
		DataDir:           "/run/spire/data",
	})
	if err != nil {
		slog.Error("configure agent", "error", err)
		return
	}
	// Serve a.Live and a.Ready as the pod's liveness and readiness probes.
	_, _ = a.Live(), a.Ready()
}
