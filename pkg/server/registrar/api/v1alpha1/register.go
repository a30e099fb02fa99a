package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is spire.spiffe.io/v1alpha1.
var GroupVersion = schema.GroupVersion{Group: "spire.spiffe.io", Version: "v1alpha1"}

// Resources of GroupVersion, for dynamic clients and informers.
var (
	// ClusterSPIFFEIDResource is clusterspiffeids.spire.spiffe.io.
	ClusterSPIFFEIDResource = GroupVersion.WithResource("clusterspiffeids")
	// ClusterStaticEntryResource is clusterstaticentries.spire.spiffe.io.
	ClusterStaticEntryResource = GroupVersion.WithResource("clusterstaticentries")
	// ClusterFederatedTrustDomainResource is
	// clusterfederatedtrustdomains.spire.spiffe.io.
	ClusterFederatedTrustDomainResource = GroupVersion.WithResource("clusterfederatedtrustdomains")
)

// AddToScheme registers the package's types (and their lists) in s under
// GroupVersion, with the meta/v1 option types.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&ClusterSPIFFEID{}, &ClusterSPIFFEIDList{},
		&ClusterStaticEntry{}, &ClusterStaticEntryList{},
		&ClusterFederatedTrustDomain{}, &ClusterFederatedTrustDomainList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// NewScheme returns a scheme holding only this package's types; callers
// that also need core types add them with clientgoscheme.AddToScheme.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}
