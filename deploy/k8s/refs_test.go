package k8s_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// refCheck is one rule about references between objects, with a mistake
// it must catch (TestRefChecksCatchMistakes makes it on a fresh copy).
type refCheck struct {
	name    string
	check   func(s *manifestSet) error
	mistake func(s *manifestSet)
}

func refChecks() []refCheck {
	return []refCheck{
		{"namespaces exist", checkNamespacesExist,
			func(s *manifestSet) {
				objectOf[*corev1.ServiceAccount](s, "spire", "spire-agent").Namespace = "spire-system"
			}},
		{"workload selectors select their pods", checkSelectors,
			func(s *manifestSet) {
				objectOf[*appsv1.DaemonSet](s, "spire", "spire-agent").Spec.Template.Labels = map[string]string{"app": "agent"}
			}},
		{"pods use defined service accounts, volumes and ConfigMaps", checkPodRefs,
			func(s *manifestSet) {
				objectOf[*appsv1.StatefulSet](s, "spire", "spire-server").Spec.Template.Spec.Volumes[0].ConfigMap.Name = "server-config"
			}},
		{"probes and Services name declared ports", checkPorts,
			func(s *manifestSet) {
				objectOf[*corev1.Service](s, "spire", "spire-server").Spec.Ports[0].TargetPort = intstr.FromString("api")
			}},
		{"names are valid Kubernetes names", checkNames,
			func(s *manifestSet) {
				objectOf[*appsv1.StatefulSet](s, "legacy-db", "db").Spec.Template.Spec.Containers[1].Ports[0].Name = "helper-health-port"
			}},
		{"bindings name defined roles and service accounts", checkBindings,
			func(s *manifestSet) {
				objectOf[*rbacv1.RoleBinding](s, "spire", "spire-server-bundle").RoleRef.Name = "spire-bundle"
			}},
	}
}

// TestReferencesResolve checks what strict decoding cannot see: names the
// API server would reject, and references to objects, volumes and ports
// that the manifests do not define (which it would accept, leaving pods
// that never start).
func TestReferencesResolve(t *testing.T) {
	s := loadManifests(t)
	for _, tc := range refChecks() {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.check(s); err != nil {
				t.Error(err)
			}
		})
	}
}

func checkNamespacesExist(s *manifestSet) error {
	var p problems
	for _, o := range s.objects {
		ns := o.meta.GetNamespace()
		if ns == "" || ns == "default" {
			continue
		}
		if _, ok := find[*corev1.Namespace](s, "", ns); !ok {
			p.add("%s: namespace %q is not created by the manifests", o.where(), ns)
		}
	}
	return p.err()
}

func checkSelectors(s *manifestSet) error {
	var p problems
	for _, pd := range pods(s) {
		if pd.gvk.Kind == "Pod" {
			continue
		}
		ok, err := selectorMatches(pd.selector, pd.labels)
		switch {
		case err != nil:
			p.add("%s: selector: %w", pd.where(), err)
		case !ok:
			p.add("%s: selector %s does not select the template's labels %v", pd.where(), metav1.FormatLabelSelector(pd.selector), pd.labels)
		}
		if ss, isSTS := pd.obj.(*appsv1.StatefulSet); isSTS {
			if _, ok := find[*corev1.Service](s, pd.meta.GetNamespace(), ss.Spec.ServiceName); !ok {
				p.add("%s: serviceName %q is not a Service of the manifests", pd.where(), ss.Spec.ServiceName)
			}
		}
	}
	return p.err()
}

func checkPodRefs(s *manifestSet) error {
	var p problems
	for _, pd := range pods(s) {
		ns := pd.meta.GetNamespace()
		if sa := pd.serviceAccount(); sa != "default" {
			if _, ok := find[*corev1.ServiceAccount](s, ns, sa); !ok {
				p.add("%s: service account %s/%s is not in the manifests", pd.where(), ns, sa)
			}
		}
		mounted := map[string]bool{}
		for _, c := range pd.containers() {
			for _, m := range c.c.VolumeMounts {
				mounted[m.Name] = true
				if pd.volume(m.Name) == nil && !pd.isClaim(m.Name) {
					p.add("%s: mounts undefined volume %q", c.where(), m.Name)
				}
			}
		}
		for _, v := range pd.spec.Volumes {
			if !mounted[v.Name] {
				p.add("%s: volume %q is mounted by no container", pd.where(), v.Name)
			}
			if cm := v.ConfigMap; cm != nil && (cm.Optional == nil || !*cm.Optional) {
				if _, ok := find[*corev1.ConfigMap](s, ns, cm.Name); !ok {
					p.add("%s: volume %q needs ConfigMap %s/%s, which the manifests do not create", pd.where(), v.Name, ns, cm.Name)
				}
			}
		}
	}
	return p.err()
}

func checkPorts(s *manifestSet) error {
	var p problems
	for _, pd := range pods(s) {
		for _, c := range pd.containers() {
			for which, probe := range map[string]*corev1.Probe{"liveness": c.c.LivenessProbe, "readiness": c.c.ReadinessProbe, "startup": c.c.StartupProbe} {
				if probe == nil {
					continue
				}
				if g := probe.HTTPGet; g != nil {
					if _, err := c.port(g.Port.String()); err != nil {
						p.add("%s probe: %w", which, err)
					}
				}
				if tcp := probe.TCPSocket; tcp != nil {
					if _, err := c.port(tcp.Port.String()); err != nil {
						p.add("%s probe: %w", which, err)
					}
				}
			}
		}
	}
	for _, svc := range all[*corev1.Service](s) {
		_, selected, err := serviceFor(s, svc.meta.GetName(), svc.meta.GetNamespace())
		if err != nil {
			p.addErr(err)
			continue
		}
		for _, sp := range svc.v.Spec.Ports {
			for _, pd := range selected {
				if _, _, err := servicePort(svc, pd, sp.Port); err != nil {
					p.add("%s: %w", svc.file, err)
				}
			}
		}
	}
	return p.err()
}

// checkNames applies the API server's name rules the manifests could
// break: object names are DNS subdomains (DNS labels for Namespaces and
// Services), container, volume and init container names DNS labels, port
// names IANA service names (at most 15 characters).
func checkNames(s *manifestSet) error {
	var p problems
	bad := func(where, what, name string, errs []string) {
		if len(errs) > 0 {
			p.add("%s: %s %q: %s", where, what, name, strings.Join(errs, "; "))
		}
	}
	for _, o := range s.objects {
		name := o.meta.GetName()
		switch o.gvk.Kind {
		case "Namespace", "Service":
			bad(o.where(), "name", name, validation.IsDNS1123Label(name))
		default:
			bad(o.where(), "name", name, validation.IsDNS1123Subdomain(name))
		}
	}
	for _, pd := range pods(s) {
		for _, v := range pd.spec.Volumes {
			bad(pd.where(), "volume", v.Name, validation.IsDNS1123Label(v.Name))
		}
		for _, c := range pd.containers() {
			bad(c.where(), "container name", c.c.Name, validation.IsDNS1123Label(c.c.Name))
			for _, cp := range c.c.Ports {
				if cp.Name != "" {
					bad(c.where(), "port name", cp.Name, validation.IsValidPortName(cp.Name))
				}
			}
		}
	}
	for _, svc := range all[*corev1.Service](s) {
		for _, sp := range svc.v.Spec.Ports {
			if sp.Name != "" {
				bad(svc.where(), "port name", sp.Name, validation.IsValidPortName(sp.Name))
			}
		}
	}
	return p.err()
}

func checkBindings(s *manifestSet) error {
	var p problems
	check := func(o object, ref rbacv1.RoleRef, subjects []rbacv1.Subject) {
		var found bool
		switch ref.Kind {
		case "ClusterRole":
			_, found = find[*rbacv1.ClusterRole](s, "", ref.Name)
		case "Role":
			_, found = find[*rbacv1.Role](s, o.meta.GetNamespace(), ref.Name)
		}
		if !found {
			p.add("%s: roleRef %s %s is not in the manifests", o.where(), ref.Kind, ref.Name)
		}
		for _, sub := range subjects {
			if sub.Kind != rbacv1.ServiceAccountKind {
				continue
			}
			if _, ok := find[*corev1.ServiceAccount](s, sub.Namespace, sub.Name); !ok {
				p.add("%s: subject %s/%s is not a ServiceAccount of the manifests", o.where(), sub.Namespace, sub.Name)
			}
		}
	}
	for _, b := range all[*rbacv1.ClusterRoleBinding](s) {
		check(b.object, b.v.RoleRef, b.v.Subjects)
	}
	for _, b := range all[*rbacv1.RoleBinding](s) {
		check(b.object, b.v.RoleRef, b.v.Subjects)
	}
	return p.err()
}
