package agentd

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"

	"github.com/svidkit/svidkit/pkg/config"
)

// maxBundleSize bounds a bootstrap bundle read from a file or URL.
const maxBundleSize = 4 << 20

// loadTrustBundle returns the bootstrap bundle from trust_bundle_path or
// trust_bundle_url, or nothing with insecure_bootstrap.
func loadTrustBundle(ctx context.Context, cfg *config.Agent) ([]*x509.Certificate, error) {
	var (
		data   []byte
		source string
		err    error
	)
	switch {
	case cfg.TrustBundlePath != "":
		source = cfg.TrustBundlePath
		data, err = os.ReadFile(cfg.TrustBundlePath)
		if err != nil {
			return nil, fmt.Errorf("trust_bundle_path: %w", err)
		}
	case cfg.TrustBundleURL != "":
		source = cfg.TrustBundleURL
		data, err = fetchBundle(ctx, cfg.TrustBundleURL)
		if err != nil {
			return nil, fmt.Errorf("trust_bundle_url: %w", err)
		}
	default:
		return nil, nil
	}
	return parseBundle(cfg, source, data)
}

func parseBundle(cfg *config.Agent, source string, data []byte) ([]*x509.Certificate, error) {
	if cfg.TrustBundleFormat == config.BundleFormatSPIFFE {
		b, err := spiffebundle.Parse(cfg.TrustDomain, data)
		if err != nil {
			return nil, fmt.Errorf("trust bundle %q (spiffe format): %w", source, err)
		}
		if len(b.X509Authorities()) == 0 {
			return nil, fmt.Errorf("trust bundle %q holds no X.509 authorities", source)
		}
		return b.X509Authorities(), nil
	}
	b, err := x509bundle.Parse(cfg.TrustDomain, data)
	if err != nil {
		return nil, fmt.Errorf("trust bundle %q (pem format): %w", source, err)
	}
	if len(b.X509Authorities()) == 0 {
		return nil, fmt.Errorf("trust bundle %q holds no certificates", source)
	}
	return b.X509Authorities(), nil
}

func fetchBundle(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxBundleSize))
}
