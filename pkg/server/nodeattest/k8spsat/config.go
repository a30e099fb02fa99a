package k8spsat

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultAudience is the token audience checked when a cluster configures
// none, as in SPIRE.
var DefaultAudience = []string{"spire-server"}

// DefaultRequestTimeout bounds the kube-apiserver calls of one attestation.
const DefaultRequestTimeout = 10 * time.Second

// Config configures an Attestor.
type Config struct {
	// TrustDomain is the trust domain agent IDs are issued in. Required.
	TrustDomain spiffeid.TrustDomain
	// Clusters maps a cluster name, as the agent sends it, to its settings.
	// At least one is required.
	Clusters map[string]Cluster
	// RequestTimeout bounds the apiserver calls of one attestation;
	// default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Log receives attestation logs; default slog.Default().
	Log *slog.Logger
}

// Cluster is one cluster's settings (one entry of SPIRE's clusters map).
type Cluster struct {
	// ServiceAccountAllowList holds the agents' service accounts as
	// "namespace:name". Required.
	ServiceAccountAllowList []string
	// Audience is sent as the TokenReview's spec.audiences, and the
	// review's status.audiences must include one of them. Nil means
	// DefaultAudience; an empty non-nil slice means the apiserver's own
	// audience, as in SPIRE.
	Audience []string
	// KubeConfigFile is a kubeconfig for reaching the cluster's
	// apiserver; empty means the in-cluster configuration.
	KubeConfigFile string
	// AllowedNodeLabelKeys and AllowedPodLabelKeys are the label keys
	// that become agent_node_label / agent_pod_label selectors.
	AllowedNodeLabelKeys []string
	AllowedPodLabelKeys  []string
}

// validate reports every problem in c.
func (c Config) validate() error {
	var errs []error
	if c.TrustDomain.IsZero() {
		errs = append(errs, errors.New("trust domain is required"))
	}
	if len(c.Clusters) == 0 {
		errs = append(errs, errors.New("at least one cluster is required"))
	}
	for _, name := range sortedKeys(c.Clusters) {
		cl := c.Clusters[name]
		// The name is a segment of the agent ID.
		if err := spiffeid.ValidatePathSegment(name); name == "" || err != nil {
			errs = append(errs, fmt.Errorf("cluster %q: name cannot be used in an agent ID path: %v", name, err))
		}
		if len(cl.ServiceAccountAllowList) == 0 {
			errs = append(errs, fmt.Errorf("cluster %q: service_account_allow_list must name at least one service account", name))
		}
		for _, sa := range cl.ServiceAccountAllowList {
			ns, n, ok := strings.Cut(sa, ":")
			if !ok || ns == "" || n == "" || strings.Contains(n, ":") {
				errs = append(errs, fmt.Errorf("cluster %q: service_account_allow_list entry %q: want \"namespace:name\"", name, sa))
			}
		}
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("request timeout must not be negative, got %s", c.RequestTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("k8spsat: config: %w", err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
