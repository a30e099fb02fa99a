package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterFederatedTrustDomainSpec is one federation relationship.
type ClusterFederatedTrustDomainSpec struct {
	// TrustDomain is the federated trust domain's name (example.org).
	// +kubebuilder:validation:Pattern=`^[a-z0-9._-]{1,255}$`
	TrustDomain string `json:"trustDomain"`

	// BundleEndpointURL is the HTTPS URL of the trust domain's bundle
	// endpoint, without userinfo.
	// +kubebuilder:validation:MinLength=1
	BundleEndpointURL string `json:"bundleEndpointURL"`

	// BundleEndpointProfile says how the endpoint is authenticated.
	BundleEndpointProfile BundleEndpointProfile `json:"bundleEndpointProfile"`

	// TrustDomainBundle is the trust domain's bundle (SPIFFE bundle
	// JSON), to bootstrap an https_spiffe endpoint.
	// +kubebuilder:validation:Optional
	TrustDomainBundle string `json:"trustDomainBundle,omitempty"`

	// ClassName names the registrar class that acts on this resource.
	// +kubebuilder:validation:Optional
	ClassName string `json:"className,omitempty"`
}

// BundleEndpointProfile is the authentication profile of a bundle
// endpoint.
type BundleEndpointProfile struct {
	// Type is https_spiffe or https_web.
	Type BundleEndpointProfileType `json:"type"`

	// EndpointSPIFFEID is the endpoint server's SPIFFE ID, required by
	// https_spiffe.
	// +kubebuilder:validation:Optional
	EndpointSPIFFEID string `json:"endpointSPIFFEID,omitempty"`
}

// BundleEndpointProfileType names a SPIFFE federation profile.
//
// +kubebuilder:validation:Enum=https_spiffe;https_web
type BundleEndpointProfileType string

const (
	// HTTPSSPIFFEProfileType is the https_spiffe profile: the endpoint
	// presents an SVID of the federated trust domain.
	HTTPSSPIFFEProfileType BundleEndpointProfileType = "https_spiffe"
	// HTTPSWebProfileType is the https_web profile: the endpoint presents
	// a Web PKI certificate.
	HTTPSWebProfileType BundleEndpointProfileType = "https_web"
)

// ClusterFederatedTrustDomainStatus is empty, as spire-controller-manager's.
type ClusterFederatedTrustDomainStatus struct{}

// ClusterFederatedTrustDomain federates the server with a trust domain.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="Trust Domain",type=string,JSONPath=`.spec.trustDomain`
// +kubebuilder:printcolumn:name="Endpoint URL",type=string,JSONPath=`.spec.bundleEndpointURL`
type ClusterFederatedTrustDomain struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the relationship.
	Spec ClusterFederatedTrustDomainSpec `json:"spec,omitempty"`
	// Status is empty.
	Status ClusterFederatedTrustDomainStatus `json:"status,omitempty"`
}

// ClusterFederatedTrustDomainList is a list of ClusterFederatedTrustDomain.
//
// +kubebuilder:object:root=true
type ClusterFederatedTrustDomainList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the resources.
	Items []ClusterFederatedTrustDomain `json:"items"`
}
