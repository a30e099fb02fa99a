package oidc_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/server/oidc"
)

// BenchmarkKeys measures /keys requests per second: through the handler
// alone, and over loopback HTTP with keep-alive from parallel clients,
// with the whole document (200) and with a revalidation (If-None-Match,
// 304), for a one-key set and a full 100-key set.
//
//	go test -run '^$' -bench BenchmarkKeys -benchmem ./pkg/server/oidc/
func BenchmarkKeys(b *testing.B) {
	for _, size := range []struct {
		name  string
		extra int
	}{{"1key", 0}, {"100keys", 150}} {
		m := newCA(b, testclock.New(time.Now()), "", size.extra)
		s := start(b, insecureConfig(m, "http://oidc.test"))
		h := s.Handler()
		c := client(s.Addr(), nil)
		c.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
		_, hdr, _ := get(b, c, http.MethodGet, "http://oidc.test"+oidc.KeysPath, nil)
		etag := hdr.Get("ETag")

		for _, mode := range []struct {
			name, ifNoneMatch string
			want              int
		}{{"full", "", http.StatusOK}, {"if-none-match", etag, http.StatusNotModified}} {
			b.Run(size.name+"/handler/"+mode.name, func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					req := httptest.NewRequest(http.MethodGet, oidc.KeysPath, nil)
					if mode.ifNoneMatch != "" {
						req.Header.Set("If-None-Match", mode.ifNoneMatch)
					}
					for pb.Next() {
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						if w.Code != mode.want {
							b.Fatalf("status %d, want %d", w.Code, mode.want)
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
			b.Run(size.name+"/http/"+mode.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req, _ := http.NewRequest(http.MethodGet, "http://oidc.test"+oidc.KeysPath, nil)
						if mode.ifNoneMatch != "" {
							req.Header.Set("If-None-Match", mode.ifNoneMatch)
						}
						resp, err := c.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != mode.want {
							b.Fatalf("status %d, want %d", resp.StatusCode, mode.want)
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
		}
	}
}
