package sds

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"google.golang.org/protobuf/types/known/anypb"
)

// spiffeValidatorName is the Envoy extension that validates peers per
// SPIFFE trust domain.
const spiffeValidatorName = "envoy.tls.cert_validator.spiffe"

// tlsCertificate renders svid as a tls_certificate secret named name.
func tlsCertificate(name string, svid SVID) (*tlsv3.Secret, error) {
	if len(svid.Chain) == 0 || svid.Key == nil {
		return nil, fmt.Errorf("svid %q: empty chain or key", svid.ID)
	}
	der, err := x509.MarshalPKCS8PrivateKey(svid.Key)
	if err != nil {
		return nil, fmt.Errorf("svid %q: marshal private key: %w", svid.ID, err)
	}
	return &tlsv3.Secret{
		Name: name,
		Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: inline(certsPEM(svid.Chain)),
			PrivateKey:       inline(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		}},
	}, nil
}

// validationContext renders bundles (sorted by trust domain) as one
// validation_context secret named name: the SPIFFE validator with one trust
// domain per bundle, or a plain trusted_ca with all their roots.
func validationContext(name string, bundles []*x509bundle.Bundle, spiffe bool) (*tlsv3.Secret, error) {
	vc := &tlsv3.CertificateValidationContext{}
	if spiffe {
		cfg := &tlsv3.SPIFFECertValidatorConfig{}
		for _, b := range bundles {
			cfg.TrustDomains = append(cfg.TrustDomains, &tlsv3.SPIFFECertValidatorConfig_TrustDomain{
				Name:        b.TrustDomain().Name(),
				TrustBundle: inline(certsPEM(b.X509Authorities())),
			})
		}
		typed, err := anypb.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("validation context %q: %w", name, err)
		}
		vc.CustomValidatorConfig = &corev3.TypedExtensionConfig{Name: spiffeValidatorName, TypedConfig: typed}
	} else {
		var roots bytes.Buffer
		for _, b := range bundles {
			roots.Write(certsPEM(b.X509Authorities()))
		}
		vc.TrustedCa = inline(roots.Bytes())
	}
	return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_ValidationContext{ValidationContext: vc}}, nil
}

// sortedBundles returns the bundles of set ordered by trust domain name so
// rendering (and therefore versions) is deterministic.
func sortedBundles(set *x509bundle.Set) []*x509bundle.Bundle {
	if set == nil {
		return nil
	}
	bs := set.Bundles()
	slices.SortFunc(bs, func(a, b *x509bundle.Bundle) int {
		return cmp.Compare(a.TrustDomain().Name(), b.TrustDomain().Name())
	})
	return bs
}

func certsPEM(certs []*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

func inline(b []byte) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: b}}
}
