package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterStaticEntrySpec is one registration entry, written out in full.
type ClusterStaticEntrySpec struct {
	// SPIFFEID is the entry's SPIFFE ID.
	// +kubebuilder:validation:MinLength=1
	SPIFFEID string `json:"spiffeID"`

	// ParentID is the entry's parent SPIFFE ID.
	// +kubebuilder:validation:MinLength=1
	ParentID string `json:"parentID"`

	// Selectors are the entry's selectors (type:value).
	// +kubebuilder:validation:MinItems=1
	Selectors []string `json:"selectors"`

	// FederatesWith lists trust domains the entry federates with.
	// +kubebuilder:validation:Optional
	FederatesWith []string `json:"federatesWith,omitempty"`

	// X509SVIDTTL is the X509-SVID time-to-live; zero means the server
	// default.
	// +kubebuilder:validation:Optional
	X509SVIDTTL metav1.Duration `json:"x509SVIDTTL,omitempty"`

	// JWTSVIDTTL is the JWT-SVID time-to-live; zero means the server
	// default.
	// +kubebuilder:validation:Optional
	JWTSVIDTTL metav1.Duration `json:"jwtSVIDTTL,omitempty"`

	// DNSNames are the entry's DNS names.
	// +kubebuilder:validation:Optional
	DNSNames []string `json:"dnsNames,omitempty"`

	// Hint is the entry hint.
	// +kubebuilder:validation:Optional
	Hint string `json:"hint,omitempty"`

	// Admin marks the entry as admin.
	// +kubebuilder:validation:Optional
	Admin bool `json:"admin,omitempty"`

	// Downstream marks the entry as a downstream server.
	// +kubebuilder:validation:Optional
	Downstream bool `json:"downstream,omitempty"`

	// StoreSVID marks the entry's SVID for an SVIDStore plugin. svidkit
	// has none; the field is accepted so manifests apply, and an entry
	// asking for it is counted as a render failure.
	// +kubebuilder:validation:Optional
	StoreSVID bool `json:"storeSVID,omitempty"`

	// ClassName names the registrar class that acts on this resource.
	// +kubebuilder:validation:Optional
	ClassName string `json:"className,omitempty"`
}

// ClusterStaticEntryStatus is what the registrar observed at its last
// reconciliation of the resource.
type ClusterStaticEntryStatus struct {
	// Rendered reports that the spec made a valid entry.
	Rendered bool `json:"rendered"`

	// Masked reports that an older resource renders the same entry.
	Masked bool `json:"masked"`

	// Set reports that the entry is in the datastore.
	Set bool `json:"set"`
}

// ClusterStaticEntry registers one entry as written.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster
type ClusterStaticEntry struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the entry.
	Spec ClusterStaticEntrySpec `json:"spec,omitempty"`
	// Status is written by the registrar.
	Status ClusterStaticEntryStatus `json:"status,omitempty"`
}

// ClusterStaticEntryList is a list of ClusterStaticEntry.
//
// +kubebuilder:object:root=true
type ClusterStaticEntryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the resources.
	Items []ClusterStaticEntry `json:"items"`
}
