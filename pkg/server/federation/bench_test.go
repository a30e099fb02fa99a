package federation_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"testing"

	fed "github.com/svidkit/svidkit/pkg/server/federation"
)

// BenchmarkEndpoint measures GET / over real HTTPS on loopback with a
// keep-alive client, with and without If-None-Match. Allocations are
// the whole process's: client and server.
func BenchmarkEndpoint(b *testing.B) {
	a := newDomain(b, "a.test")
	e := startEndpoint(b, fed.EndpointConfig{Source: a.ca, SVID: a.svid(b, "/spire/server")})
	url := endpointURL(e)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // benchmark
	b.Cleanup(client.CloseIdleConnections)
	resp, _ := get(b, e, "")
	etag := resp.Header.Get("ETag")

	for _, bc := range []struct {
		name        string
		ifNoneMatch string
		want        int
	}{
		{name: "full", want: http.StatusOK},
		{name: "if-none-match", ifNoneMatch: etag, want: http.StatusNotModified},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req, err := http.NewRequest(http.MethodGet, url, nil)
			if err != nil {
				b.Fatal(err)
			}
			if bc.ifNoneMatch != "" {
				req.Header.Set("If-None-Match", bc.ifNoneMatch)
			}
			var bytes int64
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != bc.want {
					b.Fatalf("status %d, want %d", resp.StatusCode, bc.want)
				}
				bytes += n
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(bytes)/float64(b.N), "body-B/op")
		})
	}
}
