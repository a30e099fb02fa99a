package oidc

import (
	"bytes"
	"net/http"
	"strconv"
)

// Paths served, below the root and below the issuer's path.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	KeysPath      = "/keys"
)

// Handler returns the endpoint's HTTP handler. Run serves it; tests and
// benchmarks may call it directly.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range s.prefixes {
		// A "GET" pattern matches HEAD too; other methods get 405 with an
		// Allow header from the mux.
		mux.HandleFunc("GET "+prefix+DiscoveryPath, s.serveDiscovery)
		mux.HandleFunc("GET "+prefix+KeysPath, s.serveKeys)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		mux.ServeHTTP(sw, r)
		s.metrics.requests.WithLabelValues(s.pathLabel(r.URL.Path), strconv.Itoa(sw.code)).Inc()
	})
}

// pathLabel bounds the path label of the request metric to three values.
func (s *Server) pathLabel(p string) string {
	for _, prefix := range s.prefixes {
		switch p {
		case prefix + DiscoveryPath:
			return "discovery"
		case prefix + KeysPath:
			return "keys"
		}
	}
	return "other"
}

// serveDiscovery serves the discovery document to allowed hosts only;
// another host gets 400, as from SPIRE's provider.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if err := s.domains.allow(r); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("ETag", s.discoveryETag)
	http.ServeContent(w, r, "", s.started, bytes.NewReader(s.discovery))
}

// serveKeys serves the current JWKS. SPIRE's provider forbids caching
// ("no-cache, no-store"); here caches may store the document but must
// revalidate it on every use ("no-cache"), which the ETag makes a 304: a
// relying party never trusts a stale key set, and polls cost little.
func (s *Server) serveKeys(w http.ResponseWriter, r *http.Request) {
	ks := s.keys.Load()
	if ks.served == 0 {
		http.Error(w, "jwt not supported/enabled in this service", http.StatusNotImplemented)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", ks.etag)
	http.ServeContent(w, r, "", ks.modTime, bytes.NewReader(ks.body))
}
