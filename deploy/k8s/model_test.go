package k8s_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// model is what the name checks compare: the server and agent with their
// configurations, the CSI driver beside the agent, every helper with its configuration, every svidkit-sds.
// The examples' registration entries are rendered from their
// ClusterSPIFFEIDs on demand (registrations), so that a mistake made in
// one shows in the entries.
type model struct {
	s       *manifestSet
	server  container
	srv     *serverConf
	agent   container
	agt     *agentConf
	csi     container
	helpers []loadedHelper
	sds     []container
}

// theContainer returns the one container in s running tool.
func theContainer(t *testing.T, s *manifestSet, tool string) container {
	t.Helper()
	var found []container
	for _, p := range pods(s) {
		for _, c := range p.containers() {
			if svidkitTool(c.c.Image) == tool {
				found = append(found, c)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("found %d %s containers, want 1", len(found), tool)
	}
	return found[0]
}

// buildModel builds the model of manifests s.
func buildModel(t *testing.T, s *manifestSet) *model {
	t.Helper()
	m := &model{s: s}
	base := s.under("deploy/k8s")
	m.server = theContainer(t, base, "svidkit-server")
	m.agent = theContainer(t, base, "svidkit-agent")
	m.csi = theContainer(t, base, "svidkit-csi")
	_, content, err := daemonConfigFile(s, m.server)
	if err != nil {
		t.Fatal(err)
	}
	if m.srv, err = readServerConf(content); err != nil {
		t.Fatalf("server.conf: %v", err)
	}
	_, content, err = daemonConfigFile(s, m.agent)
	if err != nil {
		t.Fatal(err)
	}
	if m.agt, err = readAgentConf(content); err != nil {
		t.Fatalf("agent.conf: %v", err)
	}
	for _, p := range pods(s) {
		for _, c := range p.containers() {
			switch svidkitTool(c.c.Image) {
			case "svidkit-helper":
				h, err := loadHelper(s, c)
				if err != nil {
					t.Fatal(err)
				}
				m.helpers = append(m.helpers, h)
			case "svidkit-sds":
				m.sds = append(m.sds, c)
			}
		}
	}
	return m
}

// boundRules returns the rules granted to service account ns/sa: by
// ClusterRoleBindings everywhere, and by RoleBindings in namespace scope
// (scope "" means cluster-wide grants only).
func boundRules(s *manifestSet, ns, sa, scope string) []rbacv1.PolicyRule {
	subject := func(subjects []rbacv1.Subject) bool {
		return slices.ContainsFunc(subjects, func(x rbacv1.Subject) bool {
			return x.Kind == rbacv1.ServiceAccountKind && x.Name == sa && x.Namespace == ns
		})
	}
	roleRules := func(ref rbacv1.RoleRef, roleNS string) []rbacv1.PolicyRule {
		switch ref.Kind {
		case "ClusterRole":
			if r, ok := find[*rbacv1.ClusterRole](s, "", ref.Name); ok {
				return r.v.Rules
			}
		case "Role":
			if r, ok := find[*rbacv1.Role](s, roleNS, ref.Name); ok {
				return r.v.Rules
			}
		}
		return nil
	}
	var rules []rbacv1.PolicyRule
	for _, b := range all[*rbacv1.ClusterRoleBinding](s) {
		if subject(b.v.Subjects) {
			rules = append(rules, roleRules(b.v.RoleRef, "")...)
		}
	}
	if scope != "" {
		for _, b := range all[*rbacv1.RoleBinding](s) {
			if b.meta.GetNamespace() == scope && subject(b.v.Subjects) {
				rules = append(rules, roleRules(b.v.RoleRef, scope)...)
			}
		}
	}
	return rules
}

// allows reports whether rules grant verb on group/resource (named name,
// or any object when name is "").
func allows(rules []rbacv1.PolicyRule, group, resource, verb, name string) bool {
	has := func(list []string, v string) bool {
		return slices.Contains(list, v) || slices.Contains(list, "*")
	}
	for _, r := range rules {
		if has(r.APIGroups, group) && has(r.Resources, resource) && has(r.Verbs, verb) &&
			(len(r.ResourceNames) == 0 || (name != "" && slices.Contains(r.ResourceNames, name))) {
			return true
		}
	}
	return false
}

// serviceHost splits an in-cluster Service host name (name, name.ns,
// name.ns.svc, name.ns.svc.cluster.local) into name and namespace;
// namespace is defaultNS for a bare name.
func serviceHost(host, defaultNS string) (name, ns string, err error) {
	parts := strings.SplitN(host, ".", 3)
	switch {
	case len(parts) == 1:
		return parts[0], defaultNS, nil
	case len(parts) == 2 || parts[2] == "svc" || parts[2] == "svc.cluster.local":
		return parts[0], parts[1], nil
	}
	return "", "", fmt.Errorf("%q is not an in-cluster Service name (name.namespace[.svc[.cluster.local]])", host)
}

// serviceFor returns the Service called host (as a client in namespace
// clientNS would dial it) and the pods it selects.
func serviceFor(s *manifestSet, host, clientNS string) (placed[*corev1.Service], []pod, error) {
	name, ns, err := serviceHost(host, clientNS)
	if err != nil {
		return placed[*corev1.Service]{}, nil, err
	}
	svc, ok := find[*corev1.Service](s, ns, name)
	if !ok {
		return svc, nil, fmt.Errorf("%s: no Service %s/%s in the manifests", host, ns, name)
	}
	var selected []pod
	sel := labels.SelectorFromSet(svc.v.Spec.Selector)
	for _, p := range pods(s) {
		if p.meta.GetNamespace() == ns && len(svc.v.Spec.Selector) > 0 && sel.Matches(labels.Set(p.labels)) {
			selected = append(selected, p)
		}
	}
	if len(selected) == 0 {
		return svc, nil, fmt.Errorf("Service %s selects no pod of the manifests", svc.id())
	}
	return svc, selected, nil
}

// servicePort checks that svc exposes port and forwards it to a port of a
// container in p; it returns that container port.
func servicePort(svc placed[*corev1.Service], p pod, port int32) (int32, container, error) {
	for _, sp := range svc.v.Spec.Ports {
		if sp.Port != port {
			continue
		}
		target := sp.TargetPort.String()
		if sp.TargetPort.IntValue() == 0 && sp.TargetPort.StrVal == "" {
			target = fmt.Sprint(sp.Port)
		}
		for _, c := range p.containers() {
			if c.init {
				continue
			}
			for _, cp := range c.c.Ports {
				if cp.Name == target || fmt.Sprint(cp.ContainerPort) == target {
					return cp.ContainerPort, c, nil
				}
			}
		}
		return 0, container{}, fmt.Errorf("Service %s port %d targets %q, which no container of %s declares", svc.id(), port, target, p.id())
	}
	return 0, container{}, fmt.Errorf("Service %s has no port %d", svc.id(), port)
}

// selectorMatches reports whether a workload's selector selects its own
// pod template (the API server rejects workloads where it does not).
func selectorMatches(sel *metav1.LabelSelector, podLabels map[string]string) (bool, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels)), nil
}
