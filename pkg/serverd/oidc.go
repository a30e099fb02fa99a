package serverd

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server/oidc"
	"github.com/svidkit/svidkit/pkg/server/servingcert"
	"github.com/svidkit/svidkit/pkg/taskrun"
)

// oidcDiscovery builds the OIDC discovery endpoint of the oidc_discovery
// block, bound and ready to serve, and the tasks that run it (and reload
// its certificate). It returns nil when the block is absent. The caller
// closes the endpoint if the tasks never run.
func oidcDiscovery(cfg *config.Server, keys oidc.KeySource, reg prometheus.Registerer, log *slog.Logger) (*oidc.Server, []taskrun.Task, error) {
	c := cfg.OIDCDiscovery
	if c == nil {
		return nil, nil, nil
	}
	log = log.With("subsystem", "oidc_discovery")
	var tasks []taskrun.Task
	ocfg := oidc.Config{
		Address:             net.JoinHostPort(c.Address, strconv.Itoa(c.Port)),
		Issuer:              cfg.EffectiveJWTIssuer(),
		JWKSURI:             c.JWKSURI,
		Domains:             c.Domains,
		SetKeyUse:           c.SetKeyUse,
		AllowInsecureScheme: c.AllowInsecureScheme,
		Keys:                keys,
		Log:                 log,
		Registerer:          reg,
	}
	if f := c.ServingCertFile; f != nil {
		certs, err := servingcert.New(servingcert.Config{
			CertFile:     f.CertFilePath,
			KeyFile:      f.KeyFilePath,
			SyncInterval: f.FileSyncInterval,
			Log:          log,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("oidc_discovery: serving_cert_file: %w", err)
		}
		ocfg.GetCertificate = certs.GetCertificate
		tasks = append(tasks, taskrun.Task{Name: "oidc discovery certificate reload", Run: certs.Run})
	}
	srv, err := oidc.New(ocfg)
	if err != nil {
		return nil, nil, fmt.Errorf("oidc_discovery: %w", err)
	}
	return srv, append(tasks, taskrun.Task{Name: "oidc discovery", Run: srv.Run}), nil
}
