package svidformat

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

// X509Files returns the files for one X.509-SVID and the bundles it came
// with, in the order key, SVID, bundle, then the optional combined,
// PKCS#12 keystore and truststore files. The key comes first so that
// svidfile's plain mode replaces it before the certificate.
//
// The bundle file holds the authorities of the SVID's trust domain, then
// (with AddIntermediatesToBundle) the SVID's intermediates, then (with
// IncludeFederatedDomains) the authorities of every other trust domain in
// bundles, ordered by trust domain name — spiffe-helper's order.
func X509Files(svid *x509svid.SVID, bundles *x509bundle.Set, opts Options) ([]svidfile.File, error) {
	if err := checkX509(svid, bundles, opts); err != nil {
		return nil, err
	}
	td := svid.ID.TrustDomain()
	own, ok := bundles.Get(td)
	if !ok {
		return nil, fmt.Errorf("svidformat: no X.509 bundle for trust domain %q of %s", td, svid.ID)
	}
	chain := svid.Certificates
	authorities := own.X509Authorities()
	if opts.AddIntermediatesToBundle {
		authorities = append(authorities, chain[1:]...)
		chain = chain[:1]
	}
	if opts.IncludeFederatedDomains {
		for _, b := range bundles.Bundles() {
			if b.TrustDomain() != td {
				authorities = append(authorities, b.X509Authorities()...)
			}
		}
	}
	if opts.OmitExpired {
		now := opts.now()
		chain = unexpired(chain, now)
		authorities = unexpired(authorities, now)
	}

	keyPEM, err := encodeKey(svid.PrivateKey, opts.KeyEncoding)
	if err != nil {
		return nil, err
	}
	keyMode := orDefault(opts.KeyFileMode, DefaultKeyFileMode)
	certMode := orDefault(opts.CertFileMode, DefaultCertFileMode)
	files := []svidfile.File{
		{Name: opts.KeyFileName, Data: keyPEM, Mode: keyMode},
		{Name: opts.SVIDFileName, Data: certsPEM(chain), Mode: certMode},
		{Name: opts.BundleFileName, Data: certsPEM(authorities), Mode: certMode},
	}
	if opts.CombinedFileName != "" {
		combined := append(certsPEM(chain), keyPEM...)
		files = append(files, svidfile.File{Name: opts.CombinedFileName, Data: combined, Mode: keyMode})
	}
	p12, err := pkcs12Files(svid, authorities, opts)
	if err != nil {
		return nil, err
	}
	files = append(files, p12...)
	if opts.BundleDir != "" {
		files = append(files, BundleDirFiles(bundles, opts)...)
	}
	return files, nil
}

// checkX509 rejects missing input and missing names with errors naming the
// option.
func checkX509(svid *x509svid.SVID, bundles *x509bundle.Set, opts Options) error {
	switch {
	case svid == nil:
		return errors.New("svidformat: no X.509-SVID")
	case len(svid.Certificates) == 0:
		return fmt.Errorf("svidformat: X.509-SVID %s has no certificates", svid.ID)
	case svid.PrivateKey == nil:
		return fmt.Errorf("svidformat: X.509-SVID %s has no private key", svid.ID)
	case bundles == nil:
		return errors.New("svidformat: no X.509 bundle set")
	case opts.SVIDFileName == "":
		return errors.New("svidformat: SVIDFileName (svid_file_name) is empty")
	case opts.KeyFileName == "":
		return errors.New("svidformat: KeyFileName (svid_key_file_name) is empty")
	case opts.BundleFileName == "":
		return errors.New("svidformat: BundleFileName (svid_bundle_file_name) is empty")
	}
	return nil
}

// certsPEM encodes certs as consecutive "CERTIFICATE" PEM blocks. No
// certificates give an empty (non-nil) file, as spiffe-helper writes.
func certsPEM(certs []*x509.Certificate) []byte {
	out := []byte{}
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// unexpired returns the certificates whose NotAfter is not before now.
func unexpired(certs []*x509.Certificate, now time.Time) []*x509.Certificate {
	out := make([]*x509.Certificate, 0, len(certs))
	for _, c := range certs {
		if !c.NotAfter.Before(now) {
			out = append(out, c)
		}
	}
	return out
}
