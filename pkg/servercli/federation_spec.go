package servercli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
)

// Bundle endpoint profiles, as spire-server spells them.
const (
	profileHTTPSWeb    = "https_web"
	profileHTTPSSPIFFE = "https_spiffe"
)

// relationshipSpec is one federation relationship as given by the flags of
// `federation create|update` or by one item of a -data document (SPIRE's
// JSON field names).
type relationshipSpec struct {
	TrustDomain             string          `json:"trustDomain,omitempty"`
	BundleEndpointURL       string          `json:"bundleEndpointURL,omitempty"`
	BundleEndpointProfile   string          `json:"bundleEndpointProfile,omitempty"`
	EndpointSPIFFEID        string          `json:"endpointSPIFFEID,omitempty"`
	TrustDomainBundle       json.RawMessage `json:"trustDomainBundle,omitempty"`
	TrustDomainBundleFormat string          `json:"trustDomainBundleFormat,omitempty"`
	// trustDomainBundlePath is set by -trustDomainBundlePath only; a -data
	// document embeds the bundle in TrustDomainBundle.
	trustDomainBundlePath string
}

// relationshipFlags are the flags of `federation create|update`.
type relationshipFlags struct {
	dataPath string
	spec     relationshipSpec
}

// relationshipFlagNames are the flags that describe one relationship and
// so may not be combined with -data.
var relationshipFlagNames = []string{"trustDomain", "bundleEndpointURL", "bundleEndpointProfile",
	"endpointSpiffeID", "trustDomainBundlePath", "trustDomainBundleFormat"}

func (f *relationshipFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.dataPath, "data", "", "Path to a file containing federation relationships in JSON format (optional). If set to '-', read the JSON from stdin.")
	fs.StringVar(&f.spec.TrustDomain, "trustDomain", "", "Name of the trust domain to federate with (e.g., example.org)")
	fs.StringVar(&f.spec.BundleEndpointURL, "bundleEndpointURL", "", "URL of the SPIFFE bundle endpoint that provides the trust bundle (must use the HTTPS protocol)")
	fs.StringVar(&f.spec.BundleEndpointProfile, "bundleEndpointProfile", "", `Endpoint profile type (either "https_web" or "https_spiffe")`)
	fs.StringVar(&f.spec.EndpointSPIFFEID, "endpointSpiffeID", "", "SPIFFE ID of the SPIFFE bundle endpoint server. Only used for 'spiffe' profile.")
	fs.StringVar(&f.spec.trustDomainBundlePath, "trustDomainBundlePath", "", "Path to the trust domain bundle data (optional).")
	fs.StringVar(&f.spec.TrustDomainBundleFormat, "trustDomainBundleFormat", formatPEM, `The format of the bundle data (optional). Either "pem" or "spiffe".`)
}

// relationships returns the relationships the flags (or the -data
// document) describe.
func (f *relationshipFlags) relationships(cmd *cobra.Command) ([]*types.FederationRelationship, error) {
	if f.dataPath == "" {
		r, err := f.spec.proto("")
		if err != nil {
			return nil, err
		}
		return []*types.FederationRelationship{r}, nil
	}
	for _, name := range relationshipFlagNames {
		if cmd.Flags().Changed(name) {
			return nil, fmt.Errorf("cannot use -%s: -data gives the relationships", name)
		}
	}
	return readRelationshipData(cmd.InOrStdin(), f.dataPath)
}

// readRelationshipData reads SPIRE's -data document
// ({"federationRelationships": [...]}) from path, or stdin for "-".
func readRelationshipData(stdin io.Reader, path string) ([]*types.FederationRelationship, error) {
	data, err := readInput(stdin, "data", path, false)
	if err != nil {
		return nil, err
	}
	var doc struct {
		FederationRelationships []*relationshipSpec `json:"federationRelationships"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse -data %q: %w", path, err)
	}
	if len(doc.FederationRelationships) == 0 {
		return nil, fmt.Errorf("-data %q holds no federationRelationships", path)
	}
	out := make([]*types.FederationRelationship, 0, len(doc.FederationRelationships))
	for i, s := range doc.FederationRelationships {
		if s == nil {
			return nil, fmt.Errorf("-data %q: federationRelationships[%d] is null", path, i)
		}
		r, err := s.proto(fmt.Sprintf("-data %q: federationRelationships[%d]: ", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// proto checks s and converts it to the API form; errors start with where.
func (s *relationshipSpec) proto(where string) (*types.FederationRelationship, error) {
	switch {
	case s.TrustDomain == "":
		return nil, errors.New(where + "trust domain is required (-trustDomain)")
	case s.BundleEndpointURL == "":
		return nil, errors.New(where + "bundle endpoint URL is required (-bundleEndpointURL)")
	}
	out := &types.FederationRelationship{TrustDomain: s.TrustDomain, BundleEndpointUrl: s.BundleEndpointURL}
	bundleTD := s.TrustDomain
	switch s.BundleEndpointProfile {
	case profileHTTPSWeb:
		out.BundleEndpointProfile = &types.FederationRelationship_HttpsWeb{HttpsWeb: &types.HTTPSWebProfile{}}
	case profileHTTPSSPIFFE:
		if s.EndpointSPIFFEID == "" {
			return nil, errors.New(where + "endpoint SPIFFE ID is required if 'https_spiffe' endpoint profile is set (-endpointSpiffeID)")
		}
		id, err := spiffeid.FromString(s.EndpointSPIFFEID)
		if err != nil {
			return nil, fmt.Errorf("%scannot parse bundle endpoint SPIFFE ID %q: %w", where, s.EndpointSPIFFEID, err)
		}
		bundleTD = id.TrustDomain().Name()
		out.BundleEndpointProfile = &types.FederationRelationship_HttpsSpiffe{HttpsSpiffe: &types.HTTPSSPIFFEProfile{EndpointSpiffeId: s.EndpointSPIFFEID}}
	default:
		return nil, fmt.Errorf("%sunknown bundle endpoint profile type %q: want %q or %q", where, s.BundleEndpointProfile, profileHTTPSWeb, profileHTTPSSPIFFE)
	}
	b, err := s.bundle(where, bundleTD)
	if err != nil {
		return nil, err
	}
	out.TrustDomainBundle = b
	return out, nil
}

// bundle returns the relationship's trust domain bundle, from
// -trustDomainBundlePath or the document's trustDomainBundle (a PEM string
// or a SPIFFE bundle object), nil when neither is given.
func (s *relationshipSpec) bundle(where, td string) (*types.Bundle, error) {
	if s.trustDomainBundlePath == "" && s.TrustDomainBundle == nil {
		return nil, nil
	}
	format := s.TrustDomainBundleFormat
	if format == "" {
		format = formatPEM
	}
	format, err := checkFormat("trustDomainBundleFormat", format)
	if err != nil {
		return nil, errors.New(where + err.Error())
	}
	if s.trustDomainBundlePath != "" {
		data, err := readInput(bytes.NewReader(nil), "trustDomainBundlePath", s.trustDomainBundlePath, false)
		if err != nil {
			return nil, err
		}
		return parseBundle(data, format, td, fmt.Sprintf("-trustDomainBundlePath %q", s.trustDomainBundlePath))
	}
	data := []byte(s.TrustDomainBundle)
	if format == formatPEM {
		var pemText string
		if err := json.Unmarshal(s.TrustDomainBundle, &pemText); err != nil {
			return nil, fmt.Errorf("%strustDomainBundle: want a PEM string with trustDomainBundleFormat pem: %w", where, err)
		}
		data = []byte(pemText)
	}
	b, err := parseBundle(data, format, td, where+"trustDomainBundle")
	if err != nil {
		return nil, err
	}
	return b, nil
}
