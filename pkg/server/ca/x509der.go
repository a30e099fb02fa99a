package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"hash"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// derSigner signs X.509-SVIDs for a CA whose key is Go's own
// *ecdsa.PrivateKey by encoding the certificate here, byte for byte as
// crypto/x509 encodes the same template (x509der_test.go compares them),
// and signing it with one ECDSA signature.
//
// x509.CreateCertificate verifies every signature it makes "to ensure the
// crypto.Signer behaved correctly": one ECDSA verification, about twice
// the cost of the signature, plus a reflection-based encoding of the
// whole certificate. That check is aimed at crypto.Signer implementations
// outside Go (HSMs, KMS plugins) and at RSA, where a faulty signature can
// reveal the key; a Go ECDSA key in this process has neither risk. CAs
// with any other key keep using x509.CreateCertificate.
type derSigner struct {
	key *ecdsa.PrivateKey
	// newHash and sigAlg are the digest and the signature algorithm
	// crypto/x509 picks for the CA key's curve.
	newHash func() hash.Hash
	sigAlg  x509.SignatureAlgorithm
	// sigAlgID is the DER AlgorithmIdentifier of sigAlg; issuer is the
	// CA's raw subject.
	sigAlgID []byte
	issuer   []byte
}

// OIDs of the ECDSA signature algorithms (RFC 5758), of the subject
// alternative name extension, and of ECDSA keys and their curves
// (RFC 5480).
var (
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSubjectAltName  = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidPublicKeyECDSA  = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidNamedCurveP256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidNamedCurveP384  = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidNamedCurveP521  = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// newDERSigner returns the DER signer of a, or nil when a's key is not a
// Go ECDSA key on a curve crypto/x509 signs with.
func newDERSigner(a *X509Authority) *derSigner {
	key, ok := a.Signer.(*ecdsa.PrivateKey)
	if !ok {
		return nil
	}
	s := &derSigner{key: key, issuer: a.Cert.RawSubject}
	var oid asn1.ObjectIdentifier
	switch key.Curve {
	case elliptic.P256():
		s.newHash, s.sigAlg, oid = sha256.New, x509.ECDSAWithSHA256, oidECDSAWithSHA256
	case elliptic.P384():
		s.newHash, s.sigAlg, oid = sha512.New384, x509.ECDSAWithSHA384, oidECDSAWithSHA384
	case elliptic.P521():
		s.newHash, s.sigAlg, oid = sha512.New, x509.ECDSAWithSHA512, oidECDSAWithSHA512
	default:
		return nil
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
	s.sigAlgID = b.BytesOrPanic()
	return s
}

// emptySubject is the DER encoding of an empty Name. crypto/x509 marks the
// subject alternative name critical when the subject is empty (RFC 5280,
// 4.2.1.6).
var emptySubject = []byte{0x30, 0}

// sign returns the DER certificate of tmpl, whose fields are those
// x509Signer.template sets: serial, validity, raw subject, URIs and DNS
// names, and the CA's fixed extensions as ExtraExtensions.
func (s *derSigner) sign(tmpl *x509.Certificate, pub any) ([]byte, error) {
	// crypto/x509 refuses negative serials (RFC 5280, 4.1.2.2).
	if tmpl.SerialNumber == nil || tmpl.SerialNumber.Sign() < 0 {
		return nil, fmt.Errorf("serial number must be positive, got %v", tmpl.SerialNumber)
	}
	spki, err := marshalSPKI(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	subject := tmpl.RawSubject
	if len(subject) == 0 { // as crypto/x509's subjectBytes
		if subject, err = asn1.Marshal(tmpl.Subject.ToRDNSequence()); err != nil {
			return nil, fmt.Errorf("marshal subject: %w", err)
		}
	}
	san, err := marshalSAN(tmpl)
	if err != nil {
		return nil, err
	}
	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(2) })
		b.AddASN1BigInt(tmpl.SerialNumber)
		b.AddBytes(s.sigAlgID)
		b.AddBytes(s.issuer)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, tmpl.NotBefore)
			addTime(b, tmpl.NotAfter)
		})
		b.AddBytes(subject)
		b.AddBytes(spki)
		b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				if san != nil {
					addExtension(b, oidSubjectAltName, bytes.Equal(subject, emptySubject), san)
				}
				for _, e := range tmpl.ExtraExtensions {
					addExtension(b, e.Id, e.Critical, e.Value)
				}
			})
		})
	})
	tbsDER, err := tbs.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode certificate: %w", err)
	}
	h := s.newHash()
	h.Write(tbsDER)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, h.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	var cert cryptobyte.Builder
	cert.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbsDER)
		b.AddBytes(s.sigAlgID)
		b.AddASN1BitString(sig)
	})
	return cert.Bytes()
}

// marshalSPKI returns the SubjectPublicKeyInfo of pub as
// x509.MarshalPKIXPublicKey encodes it. ECDSA keys on the named curves,
// which agents use, are encoded here without encoding/asn1's reflection;
// every other key goes through crypto/x509.
func marshalSPKI(pub any) ([]byte, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return x509.MarshalPKIXPublicKey(pub)
	}
	var curve asn1.ObjectIdentifier
	switch k.Curve {
	case elliptic.P256():
		curve = oidNamedCurveP256
	case elliptic.P384():
		curve = oidNamedCurveP384
	case elliptic.P521():
		curve = oidNamedCurveP521
	default:
		return x509.MarshalPKIXPublicKey(pub)
	}
	point, err := k.Bytes()
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidPublicKeyECDSA)
			b.AddASN1ObjectIdentifier(curve)
		})
		b.AddASN1BitString(point)
	})
	return b.Bytes()
}

// marshalSAN encodes the subject alternative names of tmpl as crypto/x509
// does (DNS names, then URIs), or returns nil when it has none.
func marshalSAN(tmpl *x509.Certificate) ([]byte, error) {
	if len(tmpl.DNSNames) == 0 && len(tmpl.URIs) == 0 {
		return nil, nil
	}
	var b cryptobyte.Builder
	var bad error
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		add := func(tag cbasn1.Tag, name string) {
			if !isIA5(name) {
				bad = fmt.Errorf("SAN %q is not an IA5String", name)
			}
			b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(name)) })
		}
		for _, name := range tmpl.DNSNames {
			add(cbasn1.Tag(2).ContextSpecific(), name)
		}
		for _, u := range tmpl.URIs {
			add(cbasn1.Tag(6).ContextSpecific(), u.String())
		}
	})
	if bad != nil {
		return nil, bad
	}
	return b.Bytes()
}

// isIA5 reports whether s is ASCII, as an IA5String must be.
func isIA5(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// addExtension appends an Extension; critical is encoded only when true
// (DER omits a BOOLEAN DEFAULT FALSE that is false).
func addExtension(b *cryptobyte.Builder, id asn1.ObjectIdentifier, critical bool, value []byte) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(id)
		if critical {
			b.AddASN1Boolean(true)
		}
		b.AddASN1OctetString(value)
	})
}

// addTime appends t as encoding/asn1 does for crypto/x509: UTCTime for the
// years 1950 to 2049, GeneralizedTime otherwise, in UTC, to the second.
func addTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC().Truncate(time.Second)
	if y := t.Year(); y >= 1950 && y < 2050 {
		b.AddASN1UTCTime(t)
	} else {
		b.AddASN1GeneralizedTime(t)
	}
}
