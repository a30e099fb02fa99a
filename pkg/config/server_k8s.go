package config

import (
	"slices"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"

	"github.com/svidkit/svidkit/pkg/hcldecode"
)

// DefaultPSATAudience is the token audience the k8s_psat node attestor
// checks when a cluster sets none (SPIRE's default).
var DefaultPSATAudience = []string{"spire-server"}

// Defaults of the k8sbundle notifier, as in SPIRE.
const (
	DefaultBundleNamespace    = "spire"
	DefaultBundleConfigMap    = "spire-bundle"
	DefaultBundleConfigMapKey = "bundle.crt"
)

// K8sPSATNodeAttestor is the server's NodeAttestor "k8s_psat" plugin_data.
type K8sPSATNodeAttestor struct {
	// Clusters maps the cluster name agents send to its settings; at
	// least one.
	Clusters map[string]K8sPSATCluster
}

// K8sPSATCluster is one entry of the k8s_psat clusters map.
type K8sPSATCluster struct {
	// ServiceAccountAllowList holds "namespace:name" service accounts
	// agents may run as; at least one.
	ServiceAccountAllowList []string
	// Audience is the token audience checked; DefaultPSATAudience when
	// the key is absent, empty (the apiserver's audience) when set to [].
	Audience []string
	// KubeConfigFile reaches the cluster's apiserver; empty means the
	// in-cluster configuration.
	KubeConfigFile string
	// AllowedNodeLabelKeys and AllowedPodLabelKeys become
	// agent_node_label / agent_pod_label selectors.
	AllowedNodeLabelKeys []string
	AllowedPodLabelKeys  []string
}

// K8sBundle is the Notifier "k8sbundle" plugin_data, defaults resolved.
type K8sBundle struct {
	Namespace    string // default DefaultBundleNamespace
	ConfigMap    string // default DefaultBundleConfigMap
	ConfigMapKey string // default DefaultBundleConfigMapKey
	// KubeConfigFile (kube_config_file_path in SPIRE) reaches the
	// apiserver; empty means the in-cluster configuration.
	KubeConfigFile string
}

// k8sbundleUnsupported are SPIRE's k8sbundle keys for webhooks, API
// services and multiple clusters, which svidkit does not implement.
var k8sbundleUnsupported = setOf("webhook_label", "api_service_label", "clusters")

// k8sPSATNodeAttestor decodes NodeAttestor "k8s_psat":
//
//	plugin_data { clusters = { "demo" = { service_account_allow_list = ["spire:spire-agent"] } } }
func (d *decoder) k8sPSATNodeAttestor(s *Server, p plugin) {
	what := `NodeAttestor "k8s_psat"`
	att := &K8sPSATNodeAttestor{Clusters: make(map[string]K8sPSATCluster)}
	s.K8sPSAT = att
	s.NodeAttestors = append(s.NodeAttestors, "k8s_psat")
	var clustersPos token.Pos
	found, empty := false, false
	d.pluginData(p, map[string]hcldecode.Field{
		"clusters": func(it *ast.ObjectItem) {
			found, clustersPos = true, it.Pos()
			body, ok := d.Object(it)
			if !ok {
				return
			}
			empty = len(body.Items) == 0
			for _, c := range body.Items {
				d.k8sPSATCluster(att, c)
			}
		},
	})
	switch {
	case !found:
		d.Errorf(p.pos, "%s: missing required key \"clusters\" in plugin_data (clusters = { \"<name>\" = { service_account_allow_list = [\"<ns>:<sa>\"] } })", what)
	case empty:
		d.Errorf(clustersPos, "%s: clusters must configure at least one cluster", what)
	}
}

// k8sPSATCluster decodes one `"<name>" = { ... }` item of clusters.
func (d *decoder) k8sPSATCluster(att *K8sPSATNodeAttestor, it *ast.ObjectItem) {
	what := `NodeAttestor "k8s_psat"`
	if len(it.Keys) != 1 {
		d.Errorf(it.Pos(), "%s: clusters: want \"<name>\" = { ... }", what)
		return
	}
	name := hcldecode.KeyName(it.Keys[0])
	obj, ok := it.Val.(*ast.ObjectType)
	if !ok {
		d.Errorf(it.Pos(), "%s: cluster %q: want a block { ... }", what, name)
		return
	}
	if _, dup := att.Clusters[name]; dup {
		d.Errorf(it.Pos(), "%s: cluster %q is configured twice", what, name)
		return
	}
	var c K8sPSATCluster
	var legacyAllow []string
	audienceSet, allowSet := false, false
	d.Block(`cluster "`+name+`" of NodeAttestor "k8s_psat"`, obj.List, map[string]hcldecode.Field{
		"service_account_allow_list": func(it *ast.ObjectItem) {
			allowSet = true
			d.StringList(&c.ServiceAccountAllowList)(it)
		},
		// Older SPIRE examples use these; SPIRE ignores the second one
		// for k8s_psat, which always asks the TokenReview API.
		"service_account_whitelist": func(it *ast.ObjectItem) {
			d.StringList(&legacyAllow)(it)
			d.Warnf(it.Pos(), "service_account_whitelist is deprecated; use service_account_allow_list")
		},
		"use_token_review_api_validation": func(it *ast.ObjectItem) {
			var ignored bool
			d.Bool(&ignored)(it)
			d.Warnf(it.Pos(), "use_token_review_api_validation is a k8s_sat setting and is ignored: k8s_psat always validates tokens with the TokenReview API")
		},
		"audience": func(it *ast.ObjectItem) {
			audienceSet = true
			d.StringList(&c.Audience)(it)
		},
		"kube_config_file":        d.String(&c.KubeConfigFile),
		"allowed_node_label_keys": d.StringList(&c.AllowedNodeLabelKeys),
		"allowed_pod_label_keys":  d.StringList(&c.AllowedPodLabelKeys),
	}, nil)
	if !allowSet {
		c.ServiceAccountAllowList = legacyAllow
	}
	if len(c.ServiceAccountAllowList) == 0 {
		d.Errorf(it.Pos(), "%s: cluster %q: missing required key \"service_account_allow_list\" (a list of \"<namespace>:<service account>\")", what, name)
	}
	if !audienceSet {
		c.Audience = slices.Clone(DefaultPSATAudience)
	} else if c.Audience == nil {
		c.Audience = []string{}
	}
	att.Clusters[name] = c
}

// k8sBundleNotifier decodes Notifier "k8sbundle".
func (d *decoder) k8sBundleNotifier(s *Server, p plugin) {
	b := &K8sBundle{Namespace: DefaultBundleNamespace, ConfigMap: DefaultBundleConfigMap, ConfigMapKey: DefaultBundleConfigMapKey}
	s.K8sBundle = b
	if p.data == nil {
		return
	}
	var spirePath, path string
	var spirePos token.Pos
	d.Block(`plugin_data of Notifier "k8sbundle"`, p.data, map[string]hcldecode.Field{
		"namespace":      d.String(&b.Namespace),
		"config_map":     d.String(&b.ConfigMap),
		"config_map_key": d.String(&b.ConfigMapKey),
		"kube_config_file_path": func(it *ast.ObjectItem) {
			spirePos = it.Pos()
			d.String(&spirePath)(it)
		},
		"kube_config_file": d.String(&path),
	}, k8sbundleUnsupported)
	switch {
	case spirePath != "" && path != "":
		d.Errorf(spirePos, `Notifier "k8sbundle": set kube_config_file_path or kube_config_file, not both`)
	case spirePath != "":
		b.KubeConfigFile = spirePath
	default:
		b.KubeConfigFile = path
	}
	for key, v := range map[string]string{"namespace": b.Namespace, "config_map": b.ConfigMap, "config_map_key": b.ConfigMapKey} {
		if v == "" {
			d.Errorf(p.pos, `Notifier "k8sbundle": %s must not be empty`, key)
		}
	}
}
