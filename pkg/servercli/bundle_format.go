package servercli

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
)

// Bundle formats accepted by -format.
const (
	formatPEM    = "pem"
	formatSPIFFE = "spiffe"
)

// checkFormat returns the bundle format named by the flag (case does not
// matter, as in SPIRE).
func checkFormat(flag, value string) (string, error) {
	switch f := strings.ToLower(value); f {
	case formatPEM, formatSPIFFE:
		return f, nil
	}
	return "", fmt.Errorf("invalid -%s %q: want pem or spiffe", flag, value)
}

// writeBundle writes b in format: its X.509 authorities as PEM, or the
// whole bundle as an indented SPIFFE bundle document, as spire-server does.
func writeBundle(w io.Writer, b *types.Bundle, format string) error {
	if format == formatSPIFFE {
		return writeSPIFFEBundle(w, b)
	}
	return writePEMBundle(w, b)
}

// writePEMBundle writes the X.509 authorities as PEM certificates.
func writePEMBundle(w io.Writer, b *types.Bundle) error {
	for _, a := range b.GetX509Authorities() {
		if err := pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: a.GetAsn1()}); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
	}
	return nil
}

// writeSPIFFEBundle writes the bundle as a SPIFFE bundle (a JWKS document)
// indented by four spaces, as spire-server prints it.
func writeSPIFFEBundle(w io.Writer, b *types.Bundle) error {
	td, err := spiffeid.TrustDomainFromString(b.GetTrustDomain())
	if err != nil {
		return fmt.Errorf("bundle trust domain %q: %w", b.GetTrustDomain(), err)
	}
	out := spiffebundle.New(td)
	for _, a := range b.GetX509Authorities() {
		cert, err := x509.ParseCertificate(a.GetAsn1())
		if err != nil {
			return fmt.Errorf("parse bundle X.509 authority: %w", err)
		}
		out.AddX509Authority(cert)
	}
	for _, k := range b.GetJwtAuthorities() {
		pub, err := x509.ParsePKIXPublicKey(k.GetPublicKey())
		if err != nil {
			return fmt.Errorf("parse bundle JWT authority %q: %w", k.GetKeyId(), err)
		}
		if err := out.AddJWTAuthority(k.GetKeyId(), pub); err != nil {
			return fmt.Errorf("add JWT authority %q: %w", k.GetKeyId(), err)
		}
	}
	if hint := b.GetRefreshHint(); hint > 0 {
		out.SetRefreshHint(time.Duration(hint) * time.Second)
	}
	out.SetSequenceNumber(b.GetSequenceNumber())
	data, err := out.Marshal()
	if err != nil {
		return fmt.Errorf("encode SPIFFE bundle: %w", err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, data, "", "    "); err != nil {
		return fmt.Errorf("encode SPIFFE bundle: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", indented.Bytes())
	return err
}

// parseBundle parses bundle data in format for the trust domain id (a
// name or spiffe://<name>): PEM certificates become the X.509 authorities;
// a SPIFFE bundle document gives every field. source names the input in
// errors.
func parseBundle(data []byte, format, id, source string) (*types.Bundle, error) {
	td, err := spiffeid.TrustDomainFromString(id)
	if err != nil {
		return nil, fmt.Errorf("invalid trust domain %q: %w", id, err)
	}
	out := &types.Bundle{TrustDomain: td.Name()}
	if format == formatPEM {
		certs, err := parsePEMCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("unable to parse bundle data from %s: %w", source, err)
		}
		for _, c := range certs {
			out.X509Authorities = append(out.X509Authorities, &types.X509Certificate{Asn1: c.Raw})
		}
		return out, nil
	}
	b, err := spiffebundle.Parse(td, data)
	if err != nil {
		return nil, fmt.Errorf("unable to parse SPIFFE bundle from %s: %w", source, err)
	}
	for _, c := range b.X509Authorities() {
		out.X509Authorities = append(out.X509Authorities, &types.X509Certificate{Asn1: c.Raw})
	}
	keys := b.JWTAuthorities()
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		der, err := x509.MarshalPKIXPublicKey(keys[id])
		if err != nil {
			return nil, fmt.Errorf("JWT authority %q from %s: %w", id, source, err)
		}
		out.JwtAuthorities = append(out.JwtAuthorities, &types.JWTKey{KeyId: id, PublicKey: der})
	}
	if hint, ok := b.RefreshHint(); ok {
		out.RefreshHint = int64(hint / time.Second)
	}
	if seq, ok := b.SequenceNumber(); ok {
		out.SequenceNumber = seq
	}
	return out, nil
}

// parsePEMCertificates parses every CERTIFICATE block of data; anything
// else, or no certificate at all, is an error.
func parsePEMCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(certs) > 0 && len(bytes.TrimSpace(rest)) > 0 {
				return nil, errors.New("data after the last PEM block is not PEM")
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, want CERTIFICATE", len(certs)+1, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificates found")
	}
	return certs, nil
}
