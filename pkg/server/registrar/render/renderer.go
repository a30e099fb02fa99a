package render

import (
	"errors"
	"fmt"
	"text/template"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"

	"github.com/svidkit/svidkit/pkg/server/datastore"
)

// Config is what every rendering shares.
type Config struct {
	// TrustDomain is the server's trust domain.
	TrustDomain spiffeid.TrustDomain
	// ClusterName names the cluster in agent IDs and templates.
	ClusterName string
	// ClusterDomain is the cluster's DNS domain (cluster.local).
	ClusterDomain string
	// ParentIDTemplate renders each pod entry's parent ID; empty means the
	// k8s_psat agent ID of the pod's node,
	// spiffe://<td>/spire/agent/k8s_psat/<cluster>/<node UID>.
	ParentIDTemplate string
	// Validate checks each rendered entry as the entry API would
	// (server.ValidateEntry); nil applies datastore.Entry.Validate only.
	Validate func(*datastore.Entry) error
}

// Renderer renders entries under one Config. It is safe for concurrent
// use.
type Renderer struct {
	cfg    Config
	parent *template.Template
}

// NewRenderer checks cfg and compiles its parent ID template.
func NewRenderer(cfg Config) (*Renderer, error) {
	if cfg.TrustDomain.IsZero() {
		return nil, errors.New("render: trust domain is required")
	}
	if cfg.ClusterName == "" {
		return nil, errors.New("render: cluster name is required")
	}
	r := &Renderer{cfg: cfg}
	if cfg.ParentIDTemplate != "" {
		t, _, err := compileTemplate("parent_id_template", cfg.ParentIDTemplate)
		if err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
		r.parent = t
	}
	if r.cfg.Validate == nil {
		r.cfg.Validate = func(e *datastore.Entry) error { return e.Validate() }
	}
	return r, nil
}

// data is the template input for pod on node.
func (r *Renderer) data(pod *corev1.Pod, node *corev1.Node) *Data {
	return &Data{
		TrustDomain:   r.cfg.TrustDomain.Name(),
		ClusterName:   r.cfg.ClusterName,
		ClusterDomain: r.cfg.ClusterDomain,
		PodMeta:       &pod.ObjectMeta,
		PodSpec:       &pod.Spec,
		NodeMeta:      &node.ObjectMeta,
		NodeSpec:      &node.Spec,
	}
}

// parentID returns the parent of pod's entries.
func (r *Renderer) parentID(d *Data) (string, error) {
	if r.parent == nil {
		id, err := spiffeid.FromSegments(r.cfg.TrustDomain, "spire", "agent", "k8s_psat", r.cfg.ClusterName, string(d.NodeMeta.UID))
		if err != nil {
			return "", fmt.Errorf("parent ID: %w", err)
		}
		return id.String(), nil
	}
	s, err := execute(r.parent, d)
	if err != nil {
		return "", err
	}
	id, err := spiffeid.FromString(s)
	if err != nil {
		return "", fmt.Errorf("parent_id_template: %q: %w", s, err)
	}
	return id.String(), nil
}
