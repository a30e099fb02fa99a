package svidformat

import (
	"os"
	"time"
)

// Default file modes, the same as spiffe-helper's.
const (
	DefaultCertFileMode      os.FileMode = 0o644
	DefaultKeyFileMode       os.FileMode = 0o600
	DefaultJWTBundleFileMode os.FileMode = 0o600
	DefaultJWTSVIDFileMode   os.FileMode = 0o600
)

// KeyEncoding selects how the private key is PEM-encoded.
type KeyEncoding string

const (
	// KeyPKCS8 is "PRIVATE KEY" (PKCS#8), spiffe-helper's format and the
	// default.
	KeyPKCS8 KeyEncoding = "pkcs8"
	// KeyPKCS1 is "RSA PRIVATE KEY" (PKCS#1); RSA keys only.
	KeyPKCS1 KeyEncoding = "pkcs1"
	// KeySEC1 is "EC PRIVATE KEY" (SEC 1); ECDSA keys only.
	KeySEC1 KeyEncoding = "sec1"
)

// Options says which files to produce and how. Zero modes mean the
// spiffe-helper defaults.
type Options struct {
	// SVIDFileName receives the leaf certificate followed by the
	// intermediates (only the leaf with AddIntermediatesToBundle).
	SVIDFileName string
	// KeyFileName receives the private key.
	KeyFileName string
	// BundleFileName receives the trust domain's X.509 authorities.
	BundleFileName string
	// CertFileMode applies to the SVID and bundle files (default 0644).
	CertFileMode os.FileMode
	// KeyFileMode applies to every file holding the private key: key,
	// combined and PKCS#12 keystore files (default 0600).
	KeyFileMode os.FileMode

	// AddIntermediatesToBundle moves the intermediates from the SVID file
	// to the end of the trust domain's authorities in the bundle file.
	AddIntermediatesToBundle bool
	// IncludeFederatedDomains appends the authorities of every federated
	// trust domain (ordered by name) to the bundle file.
	IncludeFederatedDomains bool
	// OmitExpired drops certificates whose NotAfter has passed from the
	// SVID and bundle files, as spiffe-helper's omit_expired does.
	OmitExpired bool
	// BundleDir, when set, names a subdirectory of the output directory
	// receiving one PEM file per trust domain delivered with the SVID
	// (own and federated, never merged), named "<trust domain>.pem", with
	// CertFileMode; see BundleDirFiles.
	BundleDir string

	// KeyEncoding is pkcs8 (empty means pkcs8), pkcs1 or sec1.
	KeyEncoding KeyEncoding
	// CombinedFileName, when set, receives the certificate chain followed
	// by the key in one PEM file (HAProxy's crt format).
	CombinedFileName string
	// PKCS12FileName, when set, receives a PKCS#12 keystore with the key,
	// the leaf and the intermediates, protected with the password read from
	// PKCS12PasswordFile.
	PKCS12FileName string
	// PKCS12TrustStoreFileName, when set, receives a PKCS#12 truststore
	// with the bundle file's certificates (Java trusted-certificate
	// entries), protected with the same password.
	PKCS12TrustStoreFileName string
	// PKCS12PasswordFile holds the PKCS#12 password (one trailing newline
	// is trimmed). Required when a PKCS#12 file is requested.
	PKCS12PasswordFile string

	// JWTBundleFileName is the JWT bundle file's name (JWTBundleFile).
	JWTBundleFileName string
	// JWTBundleFileMode is the JWT bundle file's mode (default 0600).
	JWTBundleFileMode os.FileMode
	// JWTSVIDFileMode is the JWT-SVID files' mode (default 0600).
	JWTSVIDFileMode os.FileMode

	// Now returns the current time for OmitExpired; nil means time.Now.
	Now func() time.Time
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func orDefault(m, def os.FileMode) os.FileMode {
	if m == 0 {
		return def
	}
	return m
}
