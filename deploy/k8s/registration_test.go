package k8s_test

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/nodeattest/k8spsat"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
	"github.com/svidkit/svidkit/pkg/server/registrar/render"
)

// The examples register their pods through ClusterSPIFFEID resources,
// which the server's registrar renders into entries. The checks here
// render them the same way (pkg/server/registrar/render), for each pod
// template of the manifests scheduled on one node, and compare the
// entries with what the pods' helpers, clients and agents need.

// defaultClusterDomain is what the checks assume when server.conf's
// registrar block leaves cluster_domain to detection.
const defaultClusterDomain = "cluster.local"

// modelNode is the node every pod of the model runs on.
var modelNode = corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", UID: "0d7b1c3a-node-uid"}}

// registrarConf is server.conf's registrar block (the keys the checks
// compare).
type registrarConf struct {
	ClusterName      string   `hcl:"cluster_name"`
	ClusterDomain    string   `hcl:"cluster_domain"`
	IgnoreNamespaces []string `hcl:"ignore_namespaces"`
	ParentIDTemplate string   `hcl:"parent_id_template"`
	ClassName        string   `hcl:"class_name"`
	WatchClassless   bool     `hcl:"watch_classless"`
}

// clusterSPIFFEIDs returns the ClusterSPIFFEIDs the examples deploy
// (examples/registrar only illustrates the forms and is not deployed
// with them).
func clusterSPIFFEIDs(s *manifestSet) []placed[*v1alpha1.ClusterSPIFFEID] {
	var out []placed[*v1alpha1.ClusterSPIFFEID]
	for _, c := range all[*v1alpha1.ClusterSPIFFEID](s) {
		if !strings.HasPrefix(c.file, registrarExamples+"/") {
			out = append(out, c)
		}
	}
	return out
}

// registered is an entry the registrar sets for a pod.
type registered struct {
	pod    pod
	source placed[*v1alpha1.ClusterSPIFFEID]
	entry  *datastore.Entry
}

// where names the entry in messages.
func (r registered) where() string {
	return fmt.Sprintf("%s (ClusterSPIFFEID %s) for %s %s", r.source.file, r.source.meta.GetName(), r.pod.gvk.Kind, r.pod.id())
}

// registrations renders the entries the registrar sets for the pods of
// m: for each pod of a namespace not ignored, the matching non-fallback
// ClusterSPIFFEIDs of its class, else the fallback ones; of identical
// entries the oldest resource's (here: the first by name) is set.
func registrations(m *model) ([]registered, error) {
	cfg := m.srv.Registrar
	if cfg.ClusterName == "" {
		return nil, fmt.Errorf("server.conf has no registrar block with a cluster_name: nothing registers the examples' pods")
	}
	td, err := spiffeid.TrustDomainFromString(m.srv.Server.TrustDomain)
	if err != nil {
		return nil, fmt.Errorf("server.conf trust_domain: %w", err)
	}
	domain := cfg.ClusterDomain
	if domain == "" {
		domain = defaultClusterDomain
	}
	r, err := render.NewRenderer(render.Config{TrustDomain: td, ClusterName: cfg.ClusterName, ClusterDomain: domain, ParentIDTemplate: cfg.ParentIDTemplate})
	if err != nil {
		return nil, err
	}
	var compiled []*render.ClusterSPIFFEID
	sources := map[*render.ClusterSPIFFEID]placed[*v1alpha1.ClusterSPIFFEID]{}
	var p problems
	for _, c := range clusterSPIFFEIDs(m.s) {
		cc := render.CompileClusterSPIFFEID(c.v)
		if cc.Err != nil {
			p.add("%s: ClusterSPIFFEID %s: %w", c.file, c.meta.GetName(), cc.Err)
			continue
		}
		if render.ClassMatches(cc.ClassName, cfg.ClassName, cfg.WatchClassless) {
			compiled = append(compiled, cc)
			sources[cc] = c
		}
	}
	var cands []render.Candidate
	byEntry := map[*datastore.Entry]registered{}
	ignored := ignoredNamespaces(m)
	for _, pd := range pods(m.s) {
		ns := pd.meta.GetNamespace()
		if slices.Contains(ignored, ns) {
			continue
		}
		k8sPod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pd.meta.GetName(), Labels: pd.labels,
				UID: types.UID("uid-" + ns + "-" + pd.meta.GetName())},
			Spec: *pd.spec,
		}
		k8sPod.Spec.NodeName = modelNode.Name
		namespace := namespaceObject(m.s, ns)
		var matched, fallback []*render.ClusterSPIFFEID
		for _, c := range compiled {
			if c.SelectsNamespace(namespace) && c.SelectsPod(k8sPod) {
				if c.Fallback {
					fallback = append(fallback, c)
				} else {
					matched = append(matched, c)
				}
			}
		}
		if len(matched) == 0 {
			matched = fallback
		}
		for _, c := range matched {
			e, err := r.Pod(c, k8sPod, &modelNode, nil)
			if err != nil {
				p.add("%s: ClusterSPIFFEID %s does not render for %s %s: %w", sources[c].file, c.Source.Name, pd.gvk.Kind, pd.id(), err)
				continue
			}
			cands = append(cands, render.Candidate{Entry: e, Source: c.Source})
			byEntry[e] = registered{pod: pd, source: sources[c], entry: e}
		}
	}
	set, _ := render.Mask(cands)
	out := make([]registered, 0, len(set))
	for _, c := range set {
		out = append(out, byEntry[c.Entry])
	}
	return out, p.err()
}

// ignoredNamespaces returns the namespaces the registrar skips:
// ignore_namespaces, or when the key is absent pkg/config's defaults and
// the server's namespace.
func ignoredNamespaces(m *model) []string {
	if ns := m.srv.Registrar.IgnoreNamespaces; ns != nil {
		return ns
	}
	return append(slices.Clone(config.DefaultRegistrarIgnoreNamespaces), m.server.pod.meta.GetNamespace())
}

// namespaceObject returns namespace ns as the apiserver holds it: the
// manifests' Namespace object if any, with the kubernetes.io/metadata.name
// label every namespace carries.
func namespaceObject(s *manifestSet, ns string) *corev1.Namespace {
	out := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{}}}
	if n, ok := find[*corev1.Namespace](s, "", ns); ok {
		for k, v := range n.v.Labels {
			out.Labels[k] = v
		}
	}
	out.Labels["kubernetes.io/metadata.name"] = ns
	return out
}

// entryFor returns the one entry registered for pod p.
func entryFor(m *model, p pod) (registered, error) {
	regs, err := registrations(m)
	if err != nil {
		return registered{}, err
	}
	var found []registered
	for _, r := range regs {
		if r.pod.file == p.file && r.pod.id() == p.id() && r.pod.gvk == p.gvk {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		return registered{}, fmt.Errorf("%d entries registered for %s %s (%s), want 1", len(found), p.gvk.Kind, p.id(), p.file)
	}
	return found[0], nil
}

// identityPods returns the examples' pods that fetch SVIDs: those with a
// svidkit-helper or svidkit-sds container.
func identityPods(m *model) []pod {
	var out []pod
	for _, pd := range pods(m.s.under("examples")) {
		if slices.ContainsFunc(pd.containers(), func(c container) bool {
			t := svidkitTool(c.c.Image)
			return t == "svidkit-helper" || t == "svidkit-sds"
		}) {
			out = append(out, pd)
		}
	}
	return out
}

func checkRegistrarCluster(m *model) error {
	cfg := m.srv.Registrar
	if cfg.ClusterName != m.agt.PSAT.Cluster {
		return fmt.Errorf("server.conf registrar cluster_name %q; the agents attest in k8s_psat cluster %q, so entries would name parents no agent has",
			cfg.ClusterName, m.agt.PSAT.Cluster)
	}
	if ns := m.server.pod.meta.GetNamespace(); !slices.Contains(ignoredNamespaces(m), ns) {
		return fmt.Errorf("server.conf registrar ignore_namespaces %q lacks the server's namespace %s", cfg.IgnoreNamespaces, ns)
	}
	return nil
}

func checkRegistrarRBAC(m *model) error {
	var p problems
	ns, sa := m.server.pod.meta.GetNamespace(), m.server.pod.serviceAccount()
	rules := boundRules(m.s, ns, sa, "")
	for _, res := range []struct{ group, resource string }{
		{"", "pods"}, {"", "namespaces"}, {"", "nodes"},
		{v1alpha1.GroupVersion.Group, v1alpha1.ClusterSPIFFEIDResource.Resource},
		{v1alpha1.GroupVersion.Group, v1alpha1.ClusterStaticEntryResource.Resource},
		{v1alpha1.GroupVersion.Group, v1alpha1.ClusterFederatedTrustDomainResource.Resource},
	} {
		for _, verb := range []string{"list", "watch"} {
			if !allows(rules, res.group, res.resource, verb, "") {
				p.add("no ClusterRoleBinding lets %s:%s %s %s (the registrar's watches)", ns, sa, verb, res.resource)
			}
		}
		if res.group != "" && !allows(rules, res.group, res.resource+"/status", "patch", "") {
			p.add("no ClusterRoleBinding lets %s:%s patch %s/status", ns, sa, res.resource)
		}
	}
	lease := boundRules(m.s, ns, sa, ns)
	for _, verb := range []string{"get", "create", "update"} {
		if !allows(lease, "coordination.k8s.io", "leases", verb, "") {
			p.add("%s:%s may not %s leases in %s (the registrar's leader election)", ns, sa, verb, ns)
		}
	}
	return p.err()
}

func checkEntryIDs(m *model) error {
	var p problems
	regs, err := registrations(m)
	if err != nil {
		return err
	}
	td := spiffeid.RequireTrustDomainFromString(m.srv.Server.TrustDomain)
	agent, err := k8spsat.AgentID(td, m.agt.PSAT.Cluster, string(modelNode.UID))
	if err != nil {
		return err
	}
	for _, r := range regs {
		id, err := spiffeid.FromString(r.entry.SPIFFEID)
		if err != nil || id.TrustDomain() != td {
			p.add("%s: %s is not in trust domain %s", r.where(), r.entry.SPIFFEID, td)
		}
		if r.entry.ParentID != agent.String() {
			p.add("%s: parent %s, want the ID of the node's agent %s", r.where(), r.entry.ParentID, agent)
		}
	}
	return p.err()
}

func checkEntriesMatchPods(m *model) error {
	var p problems
	for _, pd := range identityPods(m) {
		_, err := entryFor(m, pd)
		p.addErr(err)
	}
	regs, err := registrations(m)
	p.addErr(err)
	for _, c := range clusterSPIFFEIDs(m.s) {
		if !slices.ContainsFunc(regs, func(r registered) bool { return r.source.meta.GetName() == c.meta.GetName() }) {
			p.add("%s: ClusterSPIFFEID %s registers no pod of the examples", c.file, c.meta.GetName())
		}
	}
	return p.err()
}
