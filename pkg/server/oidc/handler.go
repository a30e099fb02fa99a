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
// benchmarks may call it directly. Paths are matched exactly (no
// ServeMux: an issuer path is configuration, not a routing pattern).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		label := s.route(sw, r)
		s.metrics.requests.WithLabelValues(label, strconv.Itoa(sw.code)).Inc()
	})
}

// route serves r and returns its path label for the request metric
// (discovery, keys or other: bounded).
func (s *Server) route(w http.ResponseWriter, r *http.Request) string {
	var label string
	var serve http.HandlerFunc
	switch {
	case s.paths[r.URL.Path] == DiscoveryPath:
		label, serve = "discovery", s.serveDiscovery
	case s.paths[r.URL.Path] == KeysPath:
		label, serve = "keys", s.serveKeys
	default:
		http.NotFound(w, r)
		return "other"
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return label
	}
	serve(w, r)
	return label
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
