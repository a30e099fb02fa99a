package k8spsat_test

import (
	"context"
	"testing"

	"github.com/svidkit/svidkit/internal/fakekube"
)

// BenchmarkAttest measures one k8s_psat attestation against an apiserver
// over TLS: TokenReview, pod GET and node GET through client-go (JSON),
// checks and selectors. This is the server-side cost of every agent start
// and re-attestation; a real apiserver adds its own latency per request.
//
// kubeclient limits each client to 50 requests/s with a burst of 100
// (client-go's default is 5/10), and an attestation makes 3 requests: with
// -benchtime 30x the figure is the attestation's own cost; longer runs
// measure that rate limit (about 17 attestations/s sustained per cluster).
func BenchmarkAttest(b *testing.B) {
	c := newCluster(b)
	c.api.AddToken("token-1", fakekube.Token{Audiences: []string{"spire-server"}, User: fakekube.BoundUser(c.pod, c.node)})
	a := newAttestor(b, c.config())
	p := payload(b, "demo", "token-1")
	ctx := context.Background()
	if _, err := a.Attest(ctx, p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Attest(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}
