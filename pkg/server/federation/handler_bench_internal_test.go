package federation

import (
	"net/http"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark counts the handler's own allocations.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkHandler measures the handler alone, without TLS and HTTP
// parsing, with and without a matching If-None-Match.
func BenchmarkHandler(b *testing.B) {
	c, err := testca.New(spiffeid.RequireTrustDomainFromString("a.test"), nil)
	if err != nil {
		b.Fatal(err)
	}
	bundle := spiffebundle.New(c.TrustDomain())
	bundle.AddX509Authority(c.Root())
	doc, err := newDocument(bundle, 5*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	m, err := newEndpointMetrics(nil)
	if err != nil {
		b.Fatal(err)
	}
	h := &handler{metrics: m}
	h.doc.Store(doc)
	for _, bc := range []struct{ name, inm string }{{"full", ""}, {"if-none-match", doc.etag}} {
		b.Run(bc.name, func(b *testing.B) {
			req, err := http.NewRequest(http.MethodGet, "https://x/", nil)
			if err != nil {
				b.Fatal(err)
			}
			if bc.inm != "" {
				req.Header.Set("If-None-Match", bc.inm)
			}
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}
