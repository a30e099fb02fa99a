package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	_ "crypto/sha256" // crypto.SHA256
	_ "crypto/sha512" // crypto.SHA384, crypto.SHA512
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// derSigner signs X.509-SVIDs for a CA whose key is Go's own
// *ecdsa.PrivateKey by encoding the certificate here, byte for byte as
// crypto/x509 encodes the same template (x509der_internal_test.go
// compares them), and signing it with one ECDSA signature.
//
// x509.CreateCertificate verifies every signature it makes "to ensure the
// crypto.Signer behaved correctly": one ECDSA verification, about twice
// the cost of the signature, plus a reflection-based encoding of the
// whole certificate. That check is aimed at crypto.Signer implementations
// outside Go (HSMs, KMS plugins) and at RSA, where a faulty signature can
// reveal the key; a Go ECDSA key in this process has neither risk. CAs
// with any other key keep using x509.CreateCertificate.
//
// Everything that is the same in every SVID of the CA is encoded once,
// here, so that an SVID costs a few cryptobyte elements: every element
// cryptobyte builds is a heap allocation, and at thousands of SVIDs per
// second the allocations, not the encoding, were the cost.
type derSigner struct {
	key *ecdsa.PrivateKey
	// hash is the digest crypto/x509 picks for the CA key's curve.
	hash crypto.Hash
	// sigAlgID is the DER AlgorithmIdentifier of the signature algorithm;
	// issuer is the CA's raw subject.
	sigAlgID []byte
	issuer   []byte
	// version is the DER of the TBSCertificate's [0] EXPLICIT version
	// (v3).
	version []byte
	// sanHead is the DER of the subject alternative name extension's
	// extnID, and with the critical flag set in sanHeadCritical.
	sanHead, sanHeadCritical []byte
	// fixedExts is the DER of the extensions every SVID of the CA carries
	// after its SAN, one Extension after another.
	fixedExts []byte
	// spki holds, per named curve, everything of an ECDSA
	// SubjectPublicKeyInfo that precedes the point.
	spki []spkiPrefix
	// sigCapacity is room for the certificate's framing around the
	// TBSCertificate and the largest signature of the CA key.
	sigCapacity int
	// tbsBuffers holds buffers (*[]byte) for TBSCertificates, which are
	// garbage as soon as they are hashed and copied into the certificate.
	tbsBuffers sync.Pool
}

// spkiPrefix is the fixed part of an ECDSA SubjectPublicKeyInfo on curve:
// an SPKI is prefix followed by the uncompressed point of pointLen bytes.
type spkiPrefix struct {
	curve    elliptic.Curve
	prefix   []byte
	pointLen int
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

// newDERSigner returns the DER signer of a for SVIDs carrying the fixed
// extensions exts after their SAN, or nil when a's key is not a Go ECDSA
// key on a curve crypto/x509 signs with.
func newDERSigner(a *X509Authority, exts []pkix.Extension) (*derSigner, error) {
	key, ok := a.Signer.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil
	}
	// An ECDSA-Sig-Value is a SEQUENCE of two INTEGERs of at most the
	// curve's byte size plus a sign byte.
	size := (key.Curve.Params().BitSize + 7) / 8
	s := &derSigner{key: key, issuer: a.Cert.RawSubject, sigCapacity: 16 + 2*(size+3)}
	var oid asn1.ObjectIdentifier
	switch key.Curve {
	case elliptic.P256():
		s.hash, oid = crypto.SHA256, oidECDSAWithSHA256
	case elliptic.P384():
		s.hash, oid = crypto.SHA384, oidECDSAWithSHA384
	case elliptic.P521():
		s.hash, oid = crypto.SHA512, oidECDSAWithSHA512
	default:
		return nil, nil
	}
	var err error
	if s.sigAlgID, err = encode(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
	}); err != nil {
		return nil, fmt.Errorf("encode signature algorithm: %w", err)
	}
	if s.version, err = encode(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(2) })
	}); err != nil {
		return nil, fmt.Errorf("encode version: %w", err)
	}
	if s.sanHead, err = encode(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidSubjectAltName) }); err != nil {
		return nil, fmt.Errorf("encode SAN extension ID: %w", err)
	}
	if s.sanHeadCritical, err = encode(func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSubjectAltName)
		b.AddASN1Boolean(true)
	}); err != nil {
		return nil, fmt.Errorf("encode SAN extension ID: %w", err)
	}
	if s.fixedExts, err = encode(func(b *cryptobyte.Builder) {
		for _, e := range exts {
			addExtension(b, e.Id, e.Critical, e.Value)
		}
	}); err != nil {
		return nil, fmt.Errorf("encode fixed extensions: %w", err)
	}
	for _, c := range []struct {
		curve elliptic.Curve
		oid   asn1.ObjectIdentifier
	}{{elliptic.P256(), oidNamedCurveP256}, {elliptic.P384(), oidNamedCurveP384}, {elliptic.P521(), oidNamedCurveP521}} {
		p, err := newSPKIPrefix(c.curve, c.oid)
		if err != nil {
			return nil, err
		}
		s.spki = append(s.spki, p)
	}
	return s, nil
}

// newSPKIPrefix encodes the SubjectPublicKeyInfo of an ECDSA key on curve
// (named by oid) with a zero point, and keeps what precedes the point. The
// point is the last thing an SPKI holds and its length is fixed per
// curve, so every key on curve encodes as that prefix and its point.
func newSPKIPrefix(curve elliptic.Curve, oid asn1.ObjectIdentifier) (spkiPrefix, error) {
	pointLen := 1 + 2*((curve.Params().BitSize+7)/8)
	der, err := encode(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidPublicKeyECDSA)
				b.AddASN1ObjectIdentifier(oid)
			})
			b.AddASN1BitString(make([]byte, pointLen))
		})
	})
	if err != nil {
		return spkiPrefix{}, fmt.Errorf("encode %s public key prefix: %w", curve.Params().Name, err)
	}
	return spkiPrefix{curve: curve, prefix: der[:len(der)-pointLen], pointLen: pointLen}, nil
}

// encode returns what f adds to an empty builder.
func encode(f cryptobyte.BuilderContinuation) ([]byte, error) {
	var b cryptobyte.Builder
	f(&b)
	return b.Bytes()
}

// derSVID holds what differs between the SVIDs of one CA.
type derSVID struct {
	serial              *big.Int
	notBefore, notAfter time.Time
	// subject is the DER Name; uri is the SPIFFE ID, the only URI SAN.
	subject  []byte
	uri      string
	dnsNames []string
}

// emptySubject is the DER encoding of an empty Name. crypto/x509 marks the
// subject alternative name critical when the subject is empty (RFC 5280,
// 4.2.1.6).
var emptySubject = []byte{0x30, 0}

// tbsOverhead is room for a TBSCertificate's framing, serial and
// validity, beyond the parts whose lengths sign adds up itself.
const tbsOverhead = 128

// maxTBSBuffer is the largest TBSCertificate buffer kept for reuse; one
// grown by an unusually large certificate is left to the GC.
const maxTBSBuffer = 4 << 10

// sign returns the DER certificate of c for the subject key pub.
func (s *derSigner) sign(c derSVID, pub any) ([]byte, error) {
	// crypto/x509 refuses negative serials (RFC 5280, 4.1.2.2).
	if c.serial == nil || c.serial.Sign() < 0 {
		return nil, fmt.Errorf("serial number must be positive, got %v", c.serial)
	}
	sanLen := len(c.uri) + 4
	for _, name := range c.dnsNames {
		if !isIA5(name) {
			return nil, fmt.Errorf("SAN %q is not an IA5String", name)
		}
		sanLen += len(name) + 4
	}
	if !isIA5(c.uri) {
		return nil, fmt.Errorf("SAN %q is not an IA5String", c.uri)
	}
	sanHead := s.sanHead
	if bytes.Equal(c.subject, emptySubject) {
		sanHead = s.sanHeadCritical
	}
	spki, point, err := s.subjectPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	size := tbsOverhead + len(s.sigAlgID) + len(s.issuer) + len(c.subject) + len(spki) + len(point) + len(sanHead) + sanLen + len(s.fixedExts)
	buf, _ := s.tbsBuffers.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	if cap(*buf) < size {
		*buf = make([]byte, 0, size)
	}
	defer func() {
		if cap(*buf) <= maxTBSBuffer {
			s.tbsBuffers.Put(buf)
		}
	}()
	tbs := cryptobyte.NewBuilder((*buf)[:0])
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(s.version)
		b.AddASN1BigInt(c.serial)
		b.AddBytes(s.sigAlgID)
		b.AddBytes(s.issuer)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, c.notBefore)
			addTime(b, c.notAfter)
		})
		b.AddBytes(c.subject)
		b.AddBytes(spki)
		b.AddBytes(point)
		b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				// The SAN as crypto/x509 encodes it: DNS names, then the URI.
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddBytes(sanHead)
					b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							for _, name := range c.dnsNames {
								addString(b, cbasn1.Tag(2).ContextSpecific(), name)
							}
							addString(b, cbasn1.Tag(6).ContextSpecific(), c.uri)
						})
					})
				})
				b.AddBytes(s.fixedExts)
			})
		})
	})
	tbsDER, err := tbs.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode certificate: %w", err)
	}
	*buf = tbsDER[:0]
	h := s.hash.New()
	h.Write(tbsDER)
	// A deterministic (RFC 6979) signature: its nonce is derived from the
	// key and the digest by an HMAC-DRBG over the CA's own hash, where
	// crypto/ecdsa's randomized signature mixes fresh entropy into an
	// HMAC-DRBG over SHA-512, about 6 µs more and 2 KiB more garbage per
	// signature. Both are secure without a working random source; the
	// hedged form also resists faults induced while signing the same
	// message twice, and no two SVIDs are the same message: each carries
	// a fresh 128-bit random serial.
	sig, err := s.key.Sign(nil, h.Sum(nil), s.hash)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert := cryptobyte.NewBuilder(make([]byte, 0, len(tbsDER)+len(s.sigAlgID)+s.sigCapacity))
	cert.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbsDER)
		b.AddBytes(s.sigAlgID)
		b.AddASN1BitString(sig)
	})
	return cert.Bytes()
}

// subjectPublicKey returns the SubjectPublicKeyInfo of pub as
// x509.MarshalPKIXPublicKey encodes it, in two parts to be written one
// after the other. ECDSA keys on the named curves, which agents and
// workloads use, are the CA's precomputed prefix and the key's point;
// every other key is encoded by crypto/x509 (point is then nil).
func (s *derSigner) subjectPublicKey(pub any) (spki, point []byte, err error) {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		for _, p := range s.spki {
			if p.curve != k.Curve {
				continue
			}
			point, err := k.Bytes()
			if err != nil {
				return nil, nil, err
			}
			if len(point) != p.pointLen {
				return nil, nil, errors.New("unexpected length of an uncompressed point")
			}
			return p.prefix, point, nil
		}
	}
	spki, err = x509.MarshalPKIXPublicKey(pub)
	return spki, nil, err
}

// addString appends the ASN.1 element tag with the bytes of s.
func addString(b *cryptobyte.Builder, tag cbasn1.Tag, s string) {
	b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
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
