package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"hash"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// csrKey returns the subject public key of a DER CSR after checking the
// CSR's self-signature, naming field in errors. Only the key of a CSR
// matters to the calls that use it (the SVID's names come from the
// entry), so the minimal ECDSA CSRs agents send take minimalCSRKey, and
// every other CSR, valid or not, takes parseCSR and its error messages.
func csrKey(field string, der []byte) (crypto.PublicKey, error) {
	if pub := minimalCSRKey(der); pub != nil {
		return pub, nil
	}
	csr, err := parseCSR(field, der)
	if err != nil {
		return nil, err
	}
	return csr.PublicKey, nil
}

// OIDs minimalCSRKey reads.
var (
	oidPublicKeyECDSA = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidCurveP256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidCurveP384      = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidCurveP521      = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	oidSigECDSASHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSigECDSASHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidSigECDSASHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
)

// minimalCSRKey returns the public key of der when der is a CSR of the
// shape agents send (SPIRE's and svidkit's: version 0, any subject, no
// attributes, an ECDSA key on P-256, P-384 or P-521 signed with
// ECDSA-with-SHA-2) and its signature verifies; otherwise nil, and the
// caller parses der with crypto/x509.
//
// x509.ParseCertificateRequest decodes every field through encoding/asn1's
// reflection, a noticeable share of the server's CPU per SVID once the
// signature itself is cheap. Every input this accepts, crypto/x509
// accepts with the same key and signature verdict
// (TestMinimalCSRKeyAgreesWithX509, FuzzMinimalCSRKey): each field is
// read at least as strictly, and anything unusual falls back.
func minimalCSRKey(der []byte) *ecdsa.PublicKey {
	in := cryptobyte.String(der)
	var csr, tbs, tbsBody, subject, spki, attrs, sigAlg cryptobyte.String
	var version int64
	var sig []byte
	if !in.ReadASN1(&csr, cbasn1.SEQUENCE) || !in.Empty() ||
		!csr.ReadASN1Element(&tbs, cbasn1.SEQUENCE) ||
		!csr.ReadASN1(&sigAlg, cbasn1.SEQUENCE) ||
		!csr.ReadASN1BitStringAsBytes(&sig) || !csr.Empty() {
		return nil
	}
	var newHash func() hash.Hash
	var sigOID asn1.ObjectIdentifier
	if !sigAlg.ReadASN1ObjectIdentifier(&sigOID) || !sigAlg.Empty() {
		return nil
	}
	switch {
	case sigOID.Equal(oidSigECDSASHA256):
		newHash = sha256.New
	case sigOID.Equal(oidSigECDSASHA384):
		newHash = sha512.New384
	case sigOID.Equal(oidSigECDSASHA512):
		newHash = sha512.New
	default:
		return nil
	}
	body := tbs
	if !body.ReadASN1(&tbsBody, cbasn1.SEQUENCE) ||
		!tbsBody.ReadASN1Integer(&version) || version != 0 ||
		!tbsBody.ReadASN1Element(&subject, cbasn1.SEQUENCE) ||
		!tbsBody.ReadASN1Element(&spki, cbasn1.SEQUENCE) ||
		!tbsBody.ReadASN1(&attrs, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!attrs.Empty() || !tbsBody.Empty() {
		return nil
	}
	if !validSubject(subject) {
		return nil
	}
	pub := ecdsaSPKI(spki)
	if pub == nil {
		return nil
	}
	h := newHash()
	h.Write(tbs)
	if !ecdsa.VerifyASN1(pub, h.Sum(nil), sig) {
		return nil
	}
	return pub
}

// validSubject reports whether subject (a Name with its header) parses
// as crypto/x509 parses a CSR's subject; the empty Name needs no parse.
func validSubject(subject []byte) bool {
	if len(subject) == 2 {
		return true // SEQUENCE of length 0: ReadASN1Element checked the tag.
	}
	var rdn pkix.RDNSequence
	rest, err := asn1.Unmarshal(subject, &rdn)
	return err == nil && len(rest) == 0
}

// ecdsaSPKI returns the ECDSA key of a SubjectPublicKeyInfo whose
// algorithm is id-ecPublicKey with a named curve crypto/x509 supports,
// or nil.
func ecdsaSPKI(spki cryptobyte.String) *ecdsa.PublicKey {
	var body, alg cryptobyte.String
	var algOID, curveOID asn1.ObjectIdentifier
	var point []byte
	if !spki.ReadASN1(&body, cbasn1.SEQUENCE) ||
		!body.ReadASN1(&alg, cbasn1.SEQUENCE) ||
		!body.ReadASN1BitStringAsBytes(&point) || !body.Empty() ||
		!alg.ReadASN1ObjectIdentifier(&algOID) || !algOID.Equal(oidPublicKeyECDSA) ||
		!alg.ReadASN1ObjectIdentifier(&curveOID) || !alg.Empty() {
		return nil
	}
	var curve elliptic.Curve
	switch {
	case curveOID.Equal(oidCurveP256):
		curve = elliptic.P256()
	case curveOID.Equal(oidCurveP384):
		curve = elliptic.P384()
	case curveOID.Equal(oidCurveP521):
		curve = elliptic.P521()
	default:
		return nil
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil
	}
	return pub
}
