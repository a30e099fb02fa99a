package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime"
)

// DeepCopyInto copies s into out.
func (s *ClusterSPIFFEIDSpec) DeepCopyInto(out *ClusterSPIFFEIDSpec) {
	*out = *s
	out.DNSNameTemplates = cloneStrings(s.DNSNameTemplates)
	out.WorkloadSelectorTemplates = cloneStrings(s.WorkloadSelectorTemplates)
	out.FederatesWith = cloneStrings(s.FederatesWith)
	if s.NamespaceSelector != nil {
		out.NamespaceSelector = s.NamespaceSelector.DeepCopy()
	}
	if s.PodSelector != nil {
		out.PodSelector = s.PodSelector.DeepCopy()
	}
}

// DeepCopy returns a deep copy of s.
func (s *ClusterSPIFFEIDSpec) DeepCopy() *ClusterSPIFFEIDSpec {
	if s == nil {
		return nil
	}
	out := new(ClusterSPIFFEIDSpec)
	s.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies c into out.
func (c *ClusterSPIFFEID) DeepCopyInto(out *ClusterSPIFFEID) {
	*out = *c
	c.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	c.Spec.DeepCopyInto(&out.Spec)
	out.Status.Warnings = cloneStrings(c.Status.Warnings)
}

// DeepCopy returns a deep copy of c.
func (c *ClusterSPIFFEID) DeepCopy() *ClusterSPIFFEID {
	if c == nil {
		return nil
	}
	out := new(ClusterSPIFFEID)
	c.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (c *ClusterSPIFFEID) DeepCopyObject() runtime.Object { return c.DeepCopy() }

// DeepCopyInto copies l into out.
func (l *ClusterSPIFFEIDList) DeepCopyInto(out *ClusterSPIFFEIDList) {
	*out = *l
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]ClusterSPIFFEID, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy returns a deep copy of l.
func (l *ClusterSPIFFEIDList) DeepCopy() *ClusterSPIFFEIDList {
	if l == nil {
		return nil
	}
	out := new(ClusterSPIFFEIDList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *ClusterSPIFFEIDList) DeepCopyObject() runtime.Object { return l.DeepCopy() }

// DeepCopyInto copies s into out.
func (s *ClusterStaticEntrySpec) DeepCopyInto(out *ClusterStaticEntrySpec) {
	*out = *s
	out.Selectors = cloneStrings(s.Selectors)
	out.FederatesWith = cloneStrings(s.FederatesWith)
	out.DNSNames = cloneStrings(s.DNSNames)
}

// DeepCopyInto copies c into out.
func (c *ClusterStaticEntry) DeepCopyInto(out *ClusterStaticEntry) {
	*out = *c
	c.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	c.Spec.DeepCopyInto(&out.Spec)
}

// DeepCopy returns a deep copy of c.
func (c *ClusterStaticEntry) DeepCopy() *ClusterStaticEntry {
	if c == nil {
		return nil
	}
	out := new(ClusterStaticEntry)
	c.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (c *ClusterStaticEntry) DeepCopyObject() runtime.Object { return c.DeepCopy() }

// DeepCopyInto copies l into out.
func (l *ClusterStaticEntryList) DeepCopyInto(out *ClusterStaticEntryList) {
	*out = *l
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]ClusterStaticEntry, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy returns a deep copy of l.
func (l *ClusterStaticEntryList) DeepCopy() *ClusterStaticEntryList {
	if l == nil {
		return nil
	}
	out := new(ClusterStaticEntryList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *ClusterStaticEntryList) DeepCopyObject() runtime.Object { return l.DeepCopy() }

// DeepCopyInto copies c into out; the spec holds only values.
func (c *ClusterFederatedTrustDomain) DeepCopyInto(out *ClusterFederatedTrustDomain) {
	*out = *c
	c.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
}

// DeepCopy returns a deep copy of c.
func (c *ClusterFederatedTrustDomain) DeepCopy() *ClusterFederatedTrustDomain {
	if c == nil {
		return nil
	}
	out := new(ClusterFederatedTrustDomain)
	c.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (c *ClusterFederatedTrustDomain) DeepCopyObject() runtime.Object { return c.DeepCopy() }

// DeepCopyInto copies l into out.
func (l *ClusterFederatedTrustDomainList) DeepCopyInto(out *ClusterFederatedTrustDomainList) {
	*out = *l
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]ClusterFederatedTrustDomain, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy returns a deep copy of l.
func (l *ClusterFederatedTrustDomainList) DeepCopy() *ClusterFederatedTrustDomainList {
	if l == nil {
		return nil
	}
	out := new(ClusterFederatedTrustDomainList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *ClusterFederatedTrustDomainList) DeepCopyObject() runtime.Object { return l.DeepCopy() }

// cloneStrings copies s, keeping nil as nil.
func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}
