package render

import (
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// PodUIDSelector is the selector type and key every pod entry carries.
const PodUIDSelector = "pod-uid"

// ClusterSPIFFEID is a compiled ClusterSPIFFEID: its selectors parsed and
// templates compiled once, not per pod.
type ClusterSPIFFEID struct {
	// Source identifies the resource.
	Source Source
	// Fallback, ClassName as in the spec.
	Fallback  bool
	ClassName string
	// Err is set when the resource cannot render any entry (a template
	// that does not parse, a label selector that is invalid); every pod it
	// selects then counts as a render failure.
	Err error
	// Warnings are shown once in the log and the resource's status.
	Warnings []string

	spec     v1alpha1.ClusterSPIFFEIDSpec
	nsSel    labels.Selector
	podSel   labels.Selector
	id       *template.Template
	dnsNames []*template.Template
	sels     []*template.Template
}

// Source identifies the resource that rendered an entry; masking keeps
// the oldest.
type Source struct {
	Kind    string
	Name    string
	Created time.Time
}

// older reports whether s wins over o: created first, then by name.
func (s Source) older(o Source) bool {
	if !s.Created.Equal(o.Created) {
		return s.Created.Before(o.Created)
	}
	if s.Kind != o.Kind {
		return s.Kind < o.Kind
	}
	return s.Name < o.Name
}

// CompileClusterSPIFFEID compiles c. A resource with errors is still
// returned, with Err set, so that its selected pods are counted.
func CompileClusterSPIFFEID(c *v1alpha1.ClusterSPIFFEID) *ClusterSPIFFEID {
	out := &ClusterSPIFFEID{
		Source:    Source{Kind: "ClusterSPIFFEID", Name: c.Name, Created: c.CreationTimestamp.Time},
		Fallback:  c.Spec.Fallback,
		ClassName: c.Spec.ClassName,
		spec:      *c.Spec.DeepCopy(),
	}
	var err error
	if out.nsSel, err = labelSelector(c.Spec.NamespaceSelector); err != nil {
		out.Err = fmt.Errorf("namespaceSelector: %w", err)
		out.nsSel = labels.Nothing()
	}
	if out.podSel, err = labelSelector(c.Spec.PodSelector); err != nil {
		out.Err = fmt.Errorf("podSelector: %w", err)
		out.podSel = labels.Nothing()
	}
	aliased := false
	compile := func(field, text string) *template.Template {
		t, a, err := compileTemplate(field, text)
		if err != nil && out.Err == nil {
			out.Err = err
		}
		aliased = aliased || a
		return t
	}
	out.id = compile("spiffeIDTemplate", c.Spec.SPIFFEIDTemplate)
	for i, s := range c.Spec.DNSNameTemplates {
		out.dnsNames = append(out.dnsNames, compile(fmt.Sprintf("dnsNameTemplates[%d]", i), s))
	}
	for i, s := range c.Spec.WorkloadSelectorTemplates {
		out.sels = append(out.sels, compile(fmt.Sprintf("workloadSelectorTemplates[%d]", i), s))
	}
	if aliased {
		out.Warnings = append(out.Warnings, AliasWarning)
	}
	return out
}

// labelSelector converts a selector; nil selects everything.
func labelSelector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(s)
}

// SelectsNamespace reports whether the namespace selector matches ns's
// labels.
func (c *ClusterSPIFFEID) SelectsNamespace(ns *corev1.Namespace) bool {
	return c.nsSel.Matches(labels.Set(ns.Labels))
}

// SelectsPod reports whether the pod selector matches pod's labels (the
// namespace is checked separately).
func (c *ClusterSPIFFEID) SelectsPod(pod *corev1.Pod) bool {
	return c.podSel.Matches(labels.Set(pod.Labels))
}

// Pod renders c's entry for pod, scheduled on node. serviceNames are the
// names (<service>.<namespace>) of the services whose endpoints include
// the pod, used when autoPopulateDNSNames is set.
func (r *Renderer) Pod(c *ClusterSPIFFEID, pod *corev1.Pod, node *corev1.Node, serviceNames []string) (*datastore.Entry, error) {
	if c.Err != nil {
		return nil, c.Err
	}
	d := r.data(pod, node)
	idText, err := execute(c.id, d)
	if err != nil {
		return nil, err
	}
	id, err := spiffeid.FromString(idText)
	if err != nil {
		return nil, fmt.Errorf("spiffeIDTemplate: rendered %q: %w", idText, err)
	}
	parent, err := r.parentID(d)
	if err != nil {
		return nil, err
	}
	sels := []selector.Selector{{Type: "k8s", Value: PodUIDSelector + ":" + string(pod.UID)}}
	for _, t := range c.sels {
		s, err := execute(t, d)
		if err != nil {
			return nil, err
		}
		sel, err := selector.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("%s: rendered %q: %w", t.Name(), s, err)
		}
		sels = append(sels, sel)
	}
	var dns []string
	for _, t := range c.dnsNames {
		s, err := execute(t, d)
		if err != nil {
			return nil, err
		}
		dns = append(dns, s)
	}
	if c.spec.AutoPopulateDNSNames {
		for _, svc := range serviceNames {
			name, ns, _ := strings.Cut(svc, ".")
			dns = append(dns, name, svc, svc+".svc")
			if r.cfg.ClusterDomain != "" {
				dns = append(dns, name+"."+ns+".svc."+r.cfg.ClusterDomain)
			}
		}
	}
	e := &datastore.Entry{
		SPIFFEID:      id.String(),
		ParentID:      parent,
		Selectors:     selector.NewSet(sels...),
		X509SVIDTTL:   seconds(c.spec.TTL),
		JWTSVIDTTL:    seconds(c.spec.JWTTTL),
		DNSNames:      dedup(dns),
		Hint:          c.spec.Hint,
		Admin:         c.spec.Admin,
		Downstream:    c.spec.Downstream,
		FederatesWith: federatesWith(c.spec.FederatesWith),
	}
	if err := r.cfg.Validate(e); err != nil {
		return nil, fmt.Errorf("rendered entry: %w", err)
	}
	return e, nil
}

// seconds converts a duration to whole seconds, saturating at int32.
func seconds(d metav1.Duration) int32 {
	s := d.Duration / time.Second
	if s > 1<<31-1 {
		return 1<<31 - 1
	}
	return int32(s)
}

// dedup removes repeated names, keeping the first of each.
func dedup(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(names))
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// federatesWith stores trust domains by name, sorted and de-duplicated as
// the datastore keeps them, accepting spiffe://<td> as the API does.
func federatesWith(tds []string) []string {
	if len(tds) == 0 {
		return nil
	}
	out := make([]string, 0, len(tds))
	for _, s := range tds {
		if td, err := spiffeid.TrustDomainFromString(s); err == nil {
			s = td.Name()
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
