package federation

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"golang.org/x/net/netutil"

	"github.com/svidkit/svidkit/pkg/server/servingcert"
	"github.com/svidkit/svidkit/pkg/taskrun"
)

// Defaults and bounds of an Endpoint.
const (
	DefaultRefreshHint    = 5 * time.Minute
	DefaultMaxConnections = 256

	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 10 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	shutdownTimeout   = 5 * time.Second
)

// BundleSource provides this trust domain's bundle and signals its
// changes; *ca.Manager implements it. The source sets the sequence number
// and changes it on every change, as the CA does.
type BundleSource interface {
	Bundle() *spiffebundle.Bundle
	SubscribeBundle() (updates <-chan struct{}, cancel func())
}

// EndpointConfig configures an Endpoint. Exactly one of SVID and
// ServingCertFile is set.
type EndpointConfig struct {
	// Address is host:port to listen on (port 0 picks one). Required.
	Address string
	// Source is the bundle served. Required.
	Source BundleSource
	// RefreshHint is served as spiffe_refresh_hint; default
	// DefaultRefreshHint. It is rounded up to whole seconds.
	RefreshHint time.Duration
	// SVID returns the server's current X.509-SVID for the https_spiffe
	// profile (server.Server.GetCertificate).
	SVID func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ServingCertFile is the https_web profile's certificate files,
	// reloaded when they change (its Log defaults to Log).
	ServingCertFile *servingcert.Config
	// MaxConnections bounds the connections served at once; default
	// DefaultMaxConnections. Further clients wait in the listen backlog.
	MaxConnections int
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Registerer receives the endpoint's metrics; nil disables them.
	Registerer prometheus.Registerer
}

// Endpoint is the SPIFFE bundle endpoint server.
type Endpoint struct {
	cfg       EndpointConfig
	handler   *handler
	certFile  *servingcert.Reloader
	getCert   func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	listening chan struct{}

	mu   sync.Mutex
	addr net.Addr
}

// NewEndpoint validates cfg and, for https_web, loads the certificate.
func NewEndpoint(cfg EndpointConfig) (*Endpoint, error) {
	var errs []error
	if cfg.Address == "" {
		errs = append(errs, errors.New("address is required"))
	}
	if cfg.Source == nil {
		errs = append(errs, errors.New("bundle source is required"))
	}
	if (cfg.SVID == nil) == (cfg.ServingCertFile == nil) {
		errs = append(errs, errors.New("exactly one of SVID (https_spiffe) and ServingCertFile (https_web) is required"))
	}
	if cfg.RefreshHint < 0 || cfg.MaxConnections < 0 {
		errs = append(errs, errors.New("refresh hint and max connections must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("federation: bundle endpoint: %w", err)
	}
	if cfg.RefreshHint == 0 {
		cfg.RefreshHint = DefaultRefreshHint
	}
	cfg.RefreshHint = (cfg.RefreshHint + time.Second - 1) / time.Second * time.Second
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	m, err := newEndpointMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	e := &Endpoint{cfg: cfg, handler: &handler{metrics: m}, getCert: cfg.SVID, listening: make(chan struct{})}
	if cfg.ServingCertFile != nil {
		sc := *cfg.ServingCertFile
		if sc.Log == nil {
			sc.Log = cfg.Log
		}
		if e.certFile, err = servingcert.New(sc); err != nil {
			return nil, fmt.Errorf("federation: bundle endpoint: %w", err)
		}
		e.getCert = e.certFile.GetCertificate
	}
	return e, nil
}

// Listening is closed once the endpoint accepts connections.
func (e *Endpoint) Listening() <-chan struct{} { return e.listening }

// Addr returns the address listened on once listening, else nil.
func (e *Endpoint) Addr() net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.addr
}

// Run serves until ctx ends, then shuts down (bounded by a few seconds)
// and returns nil. It may be called once.
func (e *Endpoint) Run(ctx context.Context) error {
	updates, cancel := e.cfg.Source.SubscribeBundle()
	defer cancel()
	if err := e.refresh(); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", e.cfg.Address)
	if err != nil {
		return fmt.Errorf("federation: bundle endpoint: listen on %q: %w", e.cfg.Address, err)
	}
	e.mu.Lock()
	e.addr = lis.Addr()
	e.mu.Unlock()
	srv := &http.Server{
		Handler:           e.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(e.cfg.Log.Handler(), slog.LevelDebug),
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: e.getCert,
		},
	}
	tlsLis := tls.NewListener(netutil.LimitListener(lis, e.cfg.MaxConnections), srv.TLSConfig)
	tasks := []taskrun.Task{
		{Name: "bundle endpoint", Run: func(ctx context.Context) error {
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(tlsLis) }()
			close(e.listening)
			e.cfg.Log.Info("bundle endpoint serving", "address", lis.Addr().String(), "profile", e.profile(),
				"refresh_hint", e.cfg.RefreshHint)
			select {
			case err := <-errc:
				return fmt.Errorf("serve: %w", err)
			case <-ctx.Done():
			}
			sctx, scancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer scancel()
			if err := srv.Shutdown(sctx); err != nil {
				_ = srv.Close()
			}
			<-errc
			return nil
		}},
		{Name: "bundle endpoint document", Run: func(ctx context.Context) error {
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-updates:
					if err := e.refresh(); err != nil {
						e.cfg.Log.Error("bundle endpoint: keeping the previous document", "error", err)
					}
				}
			}
		}},
	}
	if e.certFile != nil {
		tasks = append(tasks, taskrun.Task{Name: "bundle endpoint certificate", Run: e.certFile.Run})
	}
	if err := taskrun.Run(ctx, tasks...); err != nil {
		return fmt.Errorf("federation: %w", err)
	}
	return nil
}

// refresh rebuilds the served document from the source's bundle.
func (e *Endpoint) refresh() error {
	doc, err := newDocument(e.cfg.Source.Bundle(), e.cfg.RefreshHint)
	if err != nil {
		return fmt.Errorf("federation: bundle endpoint: %w", err)
	}
	if old := e.handler.doc.Swap(doc); old == nil || old.etag != doc.etag {
		e.cfg.Log.Debug("bundle endpoint document updated", "sequence_number", doc.seq, "etag", doc.etag)
	}
	return nil
}

func (e *Endpoint) profile() string {
	if e.certFile != nil {
		return "https_web"
	}
	return "https_spiffe"
}
