package server

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// parseCSR parses a DER CSR and checks its self-signature, naming field in
// errors.
func parseCSR(field string, der []byte) (*x509.CertificateRequest, error) {
	if len(der) == 0 {
		return nil, fmt.Errorf("%s: is required", field)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%s: malformed CSR: %w", field, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%s: CSR signature check failed: %w", field, err)
	}
	if csr.PublicKey == nil {
		return nil, errors.New(field + ": CSR has no public key")
	}
	return csr, nil
}
