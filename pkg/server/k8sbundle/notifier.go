package k8sbundle

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"

	"github.com/svidkit/svidkit/pkg/backoff"
	"github.com/svidkit/svidkit/pkg/server/kubeclient"
)

// Defaults applied by New, as in SPIRE.
const (
	DefaultNamespace      = "spire"
	DefaultConfigMap      = "spire-bundle"
	DefaultConfigMapKey   = "bundle.crt"
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = time.Minute
	// DefaultRequestTimeout bounds one publish attempt.
	DefaultRequestTimeout = 30 * time.Second
)

// Source provides the trust bundle and signals its changes. *ca.Manager
// implements it.
type Source interface {
	// Bundle returns the current bundle.
	Bundle() *spiffebundle.Bundle
	// SubscribeBundle returns a channel signalled after each change and a
	// function that ends the subscription.
	SubscribeBundle() (updates <-chan struct{}, cancel func())
}

// Config configures a Notifier.
type Config struct {
	// Source is the bundle to publish. Required.
	Source Source
	// Namespace, ConfigMap and ConfigMapKey name the key kept current;
	// defaults DefaultNamespace, DefaultConfigMap, DefaultConfigMapKey.
	Namespace    string
	ConfigMap    string
	ConfigMapKey string
	// KubeConfigFile is a kubeconfig for the apiserver; empty means the
	// in-cluster configuration.
	KubeConfigFile string
	// InitialBackoff and MaxBackoff bound the wait between failed
	// attempts; defaults DefaultInitialBackoff and DefaultMaxBackoff.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// RequestTimeout bounds one publish attempt; default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Log receives the notifier's logs; default slog.Default().
	Log *slog.Logger
}

// Notifier keeps a ConfigMap key holding the trust bundle current.
type Notifier struct {
	cfg    Config
	client *kubeclient.Client
}

// New validates cfg, fills in defaults and builds the apiserver client.
// It does not contact the apiserver; Run does.
func New(cfg Config) (*Notifier, error) {
	var errs []error
	if cfg.Source == nil {
		errs = append(errs, errors.New("bundle source is required"))
	}
	if cfg.InitialBackoff < 0 || cfg.MaxBackoff < 0 || cfg.RequestTimeout < 0 {
		errs = append(errs, errors.New("backoffs and request timeout must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("k8sbundle: config: %w", err)
	}
	setDefault(&cfg.Namespace, DefaultNamespace)
	setDefault(&cfg.ConfigMap, DefaultConfigMap)
	setDefault(&cfg.ConfigMapKey, DefaultConfigMapKey)
	setDefault(&cfg.InitialBackoff, DefaultInitialBackoff)
	setDefault(&cfg.MaxBackoff, DefaultMaxBackoff)
	setDefault(&cfg.RequestTimeout, DefaultRequestTimeout)
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.InitialBackoff)
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cs, err := kubeclient.New(cfg.KubeConfigFile)
	if err != nil {
		return nil, fmt.Errorf("k8sbundle: %w", err)
	}
	return &Notifier{cfg: cfg, client: cs}, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Run publishes the bundle now and after every change until ctx ends,
// retrying failures with capped exponential backoff. It returns nil when
// ctx is cancelled.
func (n *Notifier) Run(ctx context.Context) error {
	updates, cancel := n.cfg.Source.SubscribeBundle()
	defer cancel()
	log := n.cfg.Log.With("namespace", n.cfg.Namespace, "config_map", n.cfg.ConfigMap, "key", n.cfg.ConfigMapKey)

	var retryC <-chan time.Time
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	bo := backoff.New(n.cfg.InitialBackoff, n.cfg.MaxBackoff)
	pending := true
	for {
		if pending {
			pending = false
			retryC = nil
			if err := n.publish(ctx, log); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				d := bo.Next()
				log.Error("publish trust bundle to ConfigMap failed; will retry", "error", err, "retry_in", d)
				if timer == nil {
					timer = time.NewTimer(d)
				} else {
					timer.Reset(d)
				}
				retryC = timer.C
			} else {
				bo.Reset()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-updates:
			// A new bundle is published at once, even mid-backoff.
			pending = true
			if timer != nil {
				timer.Stop()
			}
		case <-retryC:
			pending = true
		}
	}
}

// publish makes the ConfigMap key hold the current bundle.
func (n *Notifier) publish(ctx context.Context, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := n.client.GetConfigMap(ctx, n.cfg.Namespace, n.cfg.ConfigMap)
		if err != nil {
			return n.apiError("get", err)
		}
		// Read the bundle after the ConfigMap, so that a conflict caused by
		// another server's newer write is retried with the newest bundle.
		bundle := n.cfg.Source.Bundle()
		data, err := encodePEM(bundle)
		if err != nil {
			return err
		}
		if cm.Data[n.cfg.ConfigMapKey] == data {
			log.Debug("ConfigMap already holds the trust bundle")
			return nil
		}
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": cm.ResourceVersion},
			"data":     map[string]string{n.cfg.ConfigMapKey: data},
		})
		if err != nil {
			return fmt.Errorf("k8sbundle: encode patch: %w", err)
		}
		if _, err := n.client.MergePatchConfigMap(ctx, n.cfg.Namespace, n.cfg.ConfigMap, patch); err != nil {
			if apierrors.IsConflict(err) {
				return err // RetryOnConflict re-reads
			}
			return n.apiError("patch", err)
		}
		log.Info("published trust bundle to ConfigMap", "x509_authorities", len(bundle.X509Authorities()))
		return nil
	})
}

// apiError explains a failed call on the ConfigMap.
func (n *Notifier) apiError(verb string, err error) error {
	name := n.cfg.Namespace + "/" + n.cfg.ConfigMap
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("k8sbundle: ConfigMap %s does not exist; create it (the notifier only updates it, as SPIRE's does): %w", name, err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("k8sbundle: %s ConfigMap %s: the server's service account needs get and patch on configmaps (RBAC): %w", verb, name, err)
	}
	return fmt.Errorf("k8sbundle: %s ConfigMap %s: %w", verb, name, err)
}

// encodePEM renders the bundle's X.509 authorities as PEM certificates,
// in the bundle's order.
func encodePEM(b *spiffebundle.Bundle) (string, error) {
	var buf bytes.Buffer
	for _, c := range b.X509Authorities() {
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			return "", fmt.Errorf("k8sbundle: encode authority: %w", err)
		}
	}
	return buf.String(), nil
}
