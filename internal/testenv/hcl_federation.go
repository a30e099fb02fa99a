package testenv

import (
	"fmt"
	"strings"

	"github.com/svidkit/svidkit/pkg/config"
)

// writeFederation renders the server's federation block (inside server
// { }), as SPIRE's documentation writes it.
func writeFederation(b *strings.Builder, f *config.Federation) error {
	if f == nil {
		return nil
	}
	fmt.Fprintf(b, "  federation {\n")
	if be := f.BundleEndpoint; be != nil {
		fmt.Fprintf(b, "    bundle_endpoint {\n      address = %q\n      port = %d\n      refresh_hint = %q\n", be.Address, be.Port, be.RefreshHint)
		switch be.Profile {
		case config.ProfileHTTPSSPIFFE:
			fmt.Fprintf(b, "      profile \"https_spiffe\" {}\n")
		case config.ProfileHTTPSWeb:
			sc := be.ServingCertFile
			if sc == nil {
				return fmt.Errorf("testenv: server HCL: https_web bundle endpoint without serving_cert_file")
			}
			fmt.Fprintf(b, "      profile \"https_web\" {\n        serving_cert_file {\n          cert_file_path = %q\n          key_file_path = %q\n          file_sync_interval = %q\n        }\n      }\n",
				sc.CertFilePath, sc.KeyFilePath, sc.FileSyncInterval)
		default:
			return fmt.Errorf("testenv: server HCL: bundle endpoint profile %q is not rendered", be.Profile)
		}
		fmt.Fprintf(b, "    }\n")
	}
	for _, fw := range f.FederatesWith {
		fmt.Fprintf(b, "    federates_with %q {\n      bundle_endpoint_url = %q\n", fw.TrustDomain.Name(), fw.BundleEndpointURL)
		switch fw.Profile {
		case config.ProfileHTTPSSPIFFE:
			fmt.Fprintf(b, "      bundle_endpoint_profile \"https_spiffe\" {\n        endpoint_spiffe_id = %q\n      }\n", fw.EndpointSPIFFEID)
		case config.ProfileHTTPSWeb:
			fmt.Fprintf(b, "      bundle_endpoint_profile \"https_web\" {}\n")
		default:
			return fmt.Errorf("testenv: server HCL: federates_with %q: profile %q is not rendered", fw.TrustDomain.Name(), fw.Profile)
		}
		fmt.Fprintf(b, "    }\n")
	}
	fmt.Fprintf(b, "  }\n")
	return nil
}
