package config

import (
	"text/template"

	"github.com/hashicorp/hcl/hcl/ast"

	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// registrarBlock names the top-level registrar block in messages and Lines.
const registrarBlock = "registrar block"

// DefaultRegistrarIgnoreNamespaces are ignored when ignore_namespaces is
// absent, beside the server's own namespace (added at run time).
var DefaultRegistrarIgnoreNamespaces = []string{"kube-system", "kube-public"}

// Registrar is the top-level registrar block: the Kubernetes registrar
// that creates entries from ClusterSPIFFEID, ClusterStaticEntry and
// ClusterFederatedTrustDomain resources, with spire-controller-manager's
// settings in HCL spelling.
type Registrar struct {
	// ClusterName names the cluster in agent IDs and templates. Required.
	ClusterName string
	// ClusterDomain is the cluster's DNS domain; empty means detected at
	// start (cluster.local when detection fails).
	ClusterDomain string
	// IgnoreNamespaces are never registered; nil (the key absent) means
	// DefaultRegistrarIgnoreNamespaces and the server's namespace.
	IgnoreNamespaces []string
	// ParentIDTemplate renders each pod entry's parent ID; empty means
	// the node's k8s_psat agent ID.
	ParentIDTemplate string
	// ClassName and WatchClassless select the resources acted on: those
	// of class ClassName, and with WatchClassless those of no class.
	ClassName      string
	WatchClassless bool
	// KubeConfigFile reaches the apiserver; empty means in-cluster.
	KubeConfigFile string
	// Reconcile selects the resources acted on; all true by default.
	Reconcile RegistrarReconcile
}

// RegistrarReconcile is registrar.reconcile.
type RegistrarReconcile struct {
	ClusterSPIFFEIDs             bool
	ClusterStaticEntries         bool
	ClusterFederatedTrustDomains bool
}

// registrar decodes the top-level registrar { ... } block.
func (d *decoder) registrar(s *Server) hcldecode.Field {
	return func(it *ast.ObjectItem) {
		body, ok := d.Object(it)
		if !ok {
			return
		}
		r := &Registrar{Reconcile: RegistrarReconcile{true, true, true}}
		s.Registrar = r
		ignoreSet := false
		d.Block(registrarBlock, body, map[string]hcldecode.Field{
			"cluster_name":   d.String(&r.ClusterName),
			"cluster_domain": d.String(&r.ClusterDomain),
			"ignore_namespaces": func(it *ast.ObjectItem) {
				ignoreSet = true
				d.StringList(&r.IgnoreNamespaces)(it)
			},
			"parent_id_template": func(it *ast.ObjectItem) {
				d.String(&r.ParentIDTemplate)(it)
				if _, err := template.New("parent_id_template").Parse(r.ParentIDTemplate); err != nil {
					d.Errorf(it.Pos(), "parent_id_template: %v", err)
				}
			},
			"class_name":       d.String(&r.ClassName),
			"watch_classless":  d.Bool(&r.WatchClassless),
			"kube_config_file": d.String(&r.KubeConfigFile),
			"reconcile": func(it *ast.ObjectItem) {
				if rb, ok := d.Object(it); ok {
					d.Block("reconcile block of registrar", rb, map[string]hcldecode.Field{
						"cluster_spiffe_ids":              d.Bool(&r.Reconcile.ClusterSPIFFEIDs),
						"cluster_static_entries":          d.Bool(&r.Reconcile.ClusterStaticEntries),
						"cluster_federated_trust_domains": d.Bool(&r.Reconcile.ClusterFederatedTrustDomains),
					}, nil)
				}
			},
		}, nil)
		if r.ClusterName == "" {
			d.Errorf(it.Pos(), "registrar: missing required key \"cluster_name\"")
		}
		if ignoreSet && r.IgnoreNamespaces == nil {
			r.IgnoreNamespaces = []string{}
		}
	}
}
