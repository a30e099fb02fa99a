package ca

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"time"
)

// x509Signer is the active X.509 CA with the per-CA values every
// X.509-SVID shares, computed once at activation rather than per
// signature. It is immutable; rotation swaps in a new one.
type x509Signer struct {
	authority *X509Authority
	// subject is the SVID subject without a CN; rawSubject is its DER
	// form, handed to crypto/x509 so it need not marshal it per SVID.
	subject    pkix.Name
	rawSubject []byte
	// fixedExts are the extensions identical in every SVID this CA signs
	// (key usage, extended key usage, basic constraints, authority key
	// ID), as encoded by crypto/x509 itself. Passed as ExtraExtensions they
	// replace crypto/x509's per-signature encoding of the same values.
	fixedExts []pkix.Extension
	// der encodes and signs SVIDs without x509.CreateCertificate's
	// verification of its own signature; nil unless the CA key is a Go
	// ECDSA key (derSigner).
	der *derSigner
}

// OIDs of the extensions in x509Signer.fixedExts.
var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
)

// svidKeyUsage and svidExtKeyUsage are those of every X.509-SVID.
const svidKeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement

var svidExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}

func newX509Signer(a *X509Authority, subject pkix.Name) (*x509Signer, error) {
	raw, err := asn1.Marshal(subject.ToRDNSequence())
	if err != nil {
		return nil, fmt.Errorf("marshal X509-SVID subject: %w", err)
	}
	// Let crypto/x509 encode the fixed extensions once, in a throw-away
	// SVID-shaped certificate signed by this CA, and reuse its encoding.
	// crypto/x509 adds the authority key ID only when the subject differs
	// from the issuer's, and an SVID with DNS names (a CN) always differs:
	// give the prototype a CN so that every SVID carries the authority key
	// ID (RFC 5280, 4.2.1.1), whichever subjects are configured.
	protoSubject := subject
	protoSubject.CommonName = "svidkit X509-SVID prototype"
	now := time.Now()
	proto := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               protoSubject,
		NotBefore:             now,
		NotAfter:              now.Add(time.Minute),
		BasicConstraintsValid: true,
		KeyUsage:              svidKeyUsage,
		ExtKeyUsage:           svidExtKeyUsage,
	}
	der, err := x509.CreateCertificate(rand.Reader, proto, a.Cert, a.Signer.Public(), a.Signer)
	if err != nil {
		return nil, fmt.Errorf("create X509-SVID prototype: %w", err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse X509-SVID prototype: %w", err)
	}
	fixed := []asn1.ObjectIdentifier{oidKeyUsage, oidExtKeyUsage, oidBasicConstraints, oidAuthorityKeyID}
	var exts []pkix.Extension
	for _, e := range parsed.Extensions {
		if slices.ContainsFunc(fixed, e.Id.Equal) {
			exts = append(exts, e)
		}
	}
	ds, err := newDERSigner(a, exts)
	if err != nil {
		return nil, fmt.Errorf("prepare X509-SVID encoding: %w", err)
	}
	return &x509Signer{authority: a, subject: subject, rawSubject: raw, fixedExts: exts, der: ds}, nil
}

// sign returns the DER certificate of the SVID p with serial and
// validity, for the subject key p.PublicKey, signed by the CA.
func (s *x509Signer) sign(p X509SVIDParams, serial *big.Int, notBefore, notAfter time.Time) ([]byte, error) {
	if s.der == nil {
		return x509.CreateCertificate(rand.Reader, s.template(p, serial, notBefore, notAfter), s.authority.Cert, p.PublicKey, s.authority.Signer)
	}
	subject := s.rawSubject
	if len(p.DNSNames) > 0 {
		// The subject template gives crypto/x509, marshalled as it
		// marshals it.
		name := s.subject
		name.CommonName = p.DNSNames[0]
		var err error
		if subject, err = asn1.Marshal(name.ToRDNSequence()); err != nil {
			return nil, fmt.Errorf("marshal subject: %w", err)
		}
	}
	return s.der.sign(derSVID{
		serial: serial, notBefore: notBefore, notAfter: notAfter,
		subject: subject, uri: p.SPIFFEID.String(), dnsNames: p.DNSNames,
	}, p.PublicKey)
}

// template returns the certificate template of an SVID for
// x509.CreateCertificate: the per-SVID values plus the CA's fixed ones.
func (s *x509Signer) template(p X509SVIDParams, serial *big.Int, notBefore, notAfter time.Time) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		URIs:                  []*url.URL{p.SPIFFEID.URL()},
		DNSNames:              p.DNSNames,
		BasicConstraintsValid: true,
		KeyUsage:              svidKeyUsage,
		ExtKeyUsage:           svidExtKeyUsage,
		ExtraExtensions:       s.fixedExts,
	}
	if len(p.DNSNames) > 0 {
		tmpl.Subject = s.subject
		tmpl.Subject.CommonName = p.DNSNames[0]
	} else {
		// crypto/x509 uses RawSubject as is instead of marshalling Subject.
		tmpl.RawSubject = s.rawSubject
	}
	return tmpl
}

// serialBytes is the length of random serial numbers: 128 bits.
const serialBytes = 16

// newSerial returns a random positive serial number of up to 128 bits.
func newSerial() (*big.Int, error) {
	var b [serialBytes]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("generate serial number: %w", err)
		}
		n := new(big.Int).SetBytes(b[:])
		if n.Sign() > 0 {
			return n, nil
		}
	}
}
