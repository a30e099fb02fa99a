package serverd

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/federation"
	"github.com/svidkit/svidkit/pkg/server/servingcert"
	"github.com/svidkit/svidkit/pkg/taskrun"
)

// FederationOptions are settings of the foreign bundle manager for tests
// and embedders, deliberately not in the configuration file: a deployment
// trusts https_web endpoints through the system roots (SSL_CERT_FILE and
// SSL_CERT_DIR adjust them for the binary) and keeps SPIRE's one-minute
// refresh floor.
type FederationOptions struct {
	// WebPKIRoots, when non-nil, verifies https_web bundle endpoints
	// instead of the system roots.
	WebPKIRoots *x509.CertPool
	// MinRefreshInterval, when positive, replaces the one-minute floor
	// between two fetches of a foreign bundle (and the retry interval
	// after a failed fetch), so that tests watch several refreshes.
	MinRefreshInterval time.Duration
}

// federationManager builds the foreign bundle manager: the static
// relationships of the federation block and the dynamic ones of the trust domain API. It runs even without a
// federation block, as SPIRE's does, so that relationships created through
// the API are served; with none it only re-reads the store now and then.
func federationManager(cfg *config.Server, opts FederationOptions, store datastore.Store, reg prometheus.Registerer, log *slog.Logger) (*federation.Manager, error) {
	mc := federation.ManagerConfig{
		TrustDomain:        cfg.TrustDomain,
		Bundles:            store,
		Relationships:      store,
		WebPKIRoots:        opts.WebPKIRoots,
		MinRefreshInterval: opts.MinRefreshInterval,
		Log:                log.With("subsystem", "federation"),
		Registerer:         reg,
	}
	if cfg.Federation != nil {
		for _, fw := range cfg.Federation.FederatesWith {
			r := &datastore.FederationRelationship{
				TrustDomain:           fw.TrustDomain.Name(),
				BundleEndpointURL:     fw.BundleEndpointURL,
				BundleEndpointProfile: fw.Profile,
			}
			if !fw.EndpointSPIFFEID.IsZero() {
				r.EndpointSPIFFEID = fw.EndpointSPIFFEID.String()
			}
			mc.Static = append(mc.Static, r)
		}
	}
	return federation.NewManager(mc)
}

// bundleEndpointTask builds the bundle endpoint of the federation block;
// ok is false when none is configured. With https_spiffe it serves the
// API server's own SVID, so it starts once the server is listening.
func bundleEndpointTask(cfg *config.Server, srv *server.Server, authority *ca.Manager, reg prometheus.Registerer, log *slog.Logger) (taskrun.Task, bool, error) {
	if cfg.Federation == nil || cfg.Federation.BundleEndpoint == nil {
		return taskrun.Task{}, false, nil
	}
	be := cfg.Federation.BundleEndpoint
	ec := federation.EndpointConfig{
		Address:     net.JoinHostPort(be.Address, strconv.Itoa(be.Port)),
		Source:      authority,
		RefreshHint: be.RefreshHint,
		Log:         log.With("subsystem", "bundle_endpoint"),
		Registerer:  reg,
	}
	if sc := be.ServingCertFile; be.Profile == config.ProfileHTTPSWeb && sc != nil {
		ec.ServingCertFile = &servingcert.Config{CertFile: sc.CertFilePath, KeyFile: sc.KeyFilePath, SyncInterval: sc.FileSyncInterval}
	} else {
		ec.SVID = srv.GetCertificate
	}
	e, err := federation.NewEndpoint(ec)
	if err != nil {
		return taskrun.Task{}, false, err
	}
	return taskrun.Task{Name: "bundle endpoint", Run: func(ctx context.Context) error {
		select {
		case <-srv.Listening():
		case <-ctx.Done():
			return nil
		}
		return e.Run(ctx)
	}}, true, nil
}
