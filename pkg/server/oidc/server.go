package oidc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"
)

// Request bounds. Every request is a small GET: anything slower or bigger
// is a client to drop, not to wait for.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 15 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 16 << 10
	shutdownGrace     = 5 * time.Second
)

// Server is the OIDC discovery endpoint. New binds its listener; Run
// serves until its context ends.
type Server struct {
	cfg     Config
	ln      net.Listener
	domains domains
	// paths maps each served path to DiscoveryPath or KeysPath.
	paths   map[string]string
	metrics *metrics

	discovery     []byte
	discoveryETag string
	started       time.Time

	keys        atomic.Pointer[keySet]
	updates     <-chan struct{}
	unsubscribe func()
	closeOnce   sync.Once
}

// New validates cfg, renders the documents, subscribes to bundle changes
// and binds the listener, so that the endpoint accepts connections (and a
// port in use fails the start) before Run. Close releases it if Run is
// never called.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, started: time.Now()}
	if s.domains, err = newDomains(cfg.Domains); err != nil {
		return nil, fmt.Errorf("oidc: config: %w", err)
	}
	s.paths = servedPaths(cfg.Issuer)
	if s.discovery, err = buildDiscovery(cfg.Issuer, cfg.JWKSURI); err != nil {
		return nil, err
	}
	s.discoveryETag = etagOf(s.discovery)
	if s.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	// Subscribe before the first build: a change in between is then
	// seen by Run, never lost.
	s.updates, s.unsubscribe = cfg.Keys.SubscribeBundle()
	if err := s.refresh(); err != nil {
		s.unsubscribe()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		s.unsubscribe()
		return nil, fmt.Errorf("oidc: listen on %q: %w", cfg.Address, err)
	}
	s.ln = netutil.LimitListener(ln, cfg.MaxConnections)
	return s, nil
}

// servedPaths returns the paths the documents are served at: below the
// root, and below the issuer's path when it has one, so that an issuer
// such as https://example.org/td works without a rewriting proxy.
func servedPaths(issuer string) map[string]string {
	paths := map[string]string{DiscoveryPath: DiscoveryPath, KeysPath: KeysPath}
	if u, err := url.Parse(issuer); err == nil {
		if p := path.Clean("/" + u.Path); p != "/" {
			paths[p+DiscoveryPath] = DiscoveryPath
			paths[p+KeysPath] = KeysPath
		}
	}
	return paths
}

// Addr returns the address the endpoint listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, rebuilding the key set whenever the CA
// publishes a new bundle, then shuts down gracefully and returns nil. It
// returns an error if serving fails. Call it at most once.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Handshake failures and resets from scanners are routine on a
		// public listener: debug level.
		ErrorLog: slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	scheme := "http"
	if s.cfg.GetCertificate != nil {
		scheme = "https"
		srv.TLSConfig = &tls.Config{GetCertificate: s.cfg.GetCertificate, MinVersion: tls.VersionTLS12}
		go func() { serveErr <- srv.ServeTLS(s.ln, "", "") }()
	} else {
		s.cfg.Log.Warn("OIDC discovery served over plain HTTP (allow_insecure_scheme): only a proxy on this host should reach it")
		go func() { serveErr <- srv.Serve(s.ln) }()
	}
	s.cfg.Log.Info("OIDC discovery endpoint started", "address", s.ln.Addr().String(), "scheme", scheme,
		"issuer", s.cfg.Issuer, "jwks_uri", s.cfg.JWKSURI)

loop:
	for {
		select {
		case <-s.updates:
			if err := s.refresh(); err != nil {
				s.cfg.Log.Error("OIDC discovery key set not rebuilt; the previous one stays served", "error", err)
			}
		case err := <-serveErr:
			return fmt.Errorf("oidc: serve: %w", err)
		case <-ctx.Done():
			break loop
		}
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("oidc: serve: %w", err)
	}
	return nil
}

// Close stops listening and ends the bundle subscription; Run calls it on
// return. Closing twice is harmless.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.unsubscribe()
		err = s.ln.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	})
	return err
}

// refresh renders the CA's current JWT keys and swaps them in when they
// changed.
func (s *Server) refresh() error {
	ks, noAlg, err := buildKeySet(s.cfg.Keys.JWTAuthorities(), s.cfg.MaxKeys, s.cfg.SetKeyUse, time.Now())
	if err != nil {
		return err
	}
	if len(noAlg) > 0 {
		s.cfg.Log.Warn("JWT keys of an unknown algorithm served without \"alg\"", "kids", noAlg)
	}
	if cur := s.keys.Load(); cur != nil && cur.etag == ks.etag {
		return nil
	}
	s.keys.Store(ks)
	s.metrics.keys.Set(float64(ks.served))
	s.metrics.dropped.Set(float64(ks.dropped))
	if ks.dropped > 0 {
		s.cfg.Log.Warn("the bundle holds more JWT keys than the OIDC discovery JWKS may carry; serving the newest",
			"served", ks.served, "left_out", ks.dropped, "max_keys", s.cfg.MaxKeys)
	}
	s.cfg.Log.Debug("OIDC discovery key set updated", "keys", ks.served, "etag", ks.etag)
	return nil
}
