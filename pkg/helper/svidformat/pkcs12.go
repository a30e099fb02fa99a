package svidformat

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

// pkcs12Files returns the optional PKCS#12 keystore (key, leaf,
// intermediates) and truststore (the bundle file's certificates).
//
// PKCS#12 encryption needs random salts and IVs. They are drawn from a
// ChaCha8 stream seeded with a SHA-256 over the password, the key and the
// certificates: unpredictable to anyone without the key, yet identical for
// identical input, so an unchanged SVID gives an unchanged file and
// svidfile skips the write instead of signalling the application.
func pkcs12Files(svid *x509svid.SVID, trust []*x509.Certificate, opts Options) ([]svidfile.File, error) {
	if opts.PKCS12FileName == "" && opts.PKCS12TrustStoreFileName == "" {
		return nil, nil
	}
	password, err := readPassword(opts.PKCS12PasswordFile)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(svid.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("svidformat: encode key for PKCS#12: %w", err)
	}
	var files []svidfile.File
	if opts.PKCS12FileName != "" {
		enc := pkcs12.Modern.WithRand(seededRand("keystore", password, keyDER, svid.Certificates))
		data, err := enc.Encode(svid.PrivateKey, svid.Certificates[0], svid.Certificates[1:], password)
		if err != nil {
			return nil, fmt.Errorf("svidformat: encode PKCS#12 keystore %q: %w", opts.PKCS12FileName, err)
		}
		files = append(files, svidfile.File{Name: opts.PKCS12FileName, Data: data, Mode: orDefault(opts.KeyFileMode, DefaultKeyFileMode)})
	}
	if opts.PKCS12TrustStoreFileName != "" {
		enc := pkcs12.Modern.WithRand(seededRand("truststore", password, keyDER, trust))
		data, err := enc.EncodeTrustStore(trust, password)
		if err != nil {
			return nil, fmt.Errorf("svidformat: encode PKCS#12 truststore %q: %w", opts.PKCS12TrustStoreFileName, err)
		}
		files = append(files, svidfile.File{Name: opts.PKCS12TrustStoreFileName, Data: data, Mode: orDefault(opts.CertFileMode, DefaultCertFileMode)})
	}
	return files, nil
}

// readPassword reads the PKCS#12 password file, trimming one trailing
// newline (LF or CRLF).
func readPassword(path string) (string, error) {
	if path == "" {
		return "", errors.New("svidformat: PKCS12PasswordFile is empty but a PKCS#12 file is requested")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("svidformat: read PKCS12PasswordFile %q: %w", path, err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if pw == "" {
		return "", fmt.Errorf("svidformat: PKCS12PasswordFile %q holds an empty password", path)
	}
	return pw, nil
}

// seededRand returns a deterministic CSPRNG stream for one PKCS#12 file.
func seededRand(label, password string, keyDER []byte, certs []*x509.Certificate) io.Reader {
	h := sha256.New()
	for _, part := range [][]byte{[]byte("svidkit pkcs12 " + label), []byte(password), keyDER} {
		writeLenPrefixed(h, part)
	}
	for _, c := range certs {
		writeLenPrefixed(h, c.Raw)
	}
	var seed [32]byte
	copy(seed[:], h.Sum(nil))
	return rand.NewChaCha8(seed)
}

func writeLenPrefixed(w io.Writer, b []byte) {
	var n [8]byte
	for i := range n {
		n[i] = byte(uint64(len(b)) >> (8 * i))
	}
	_, _ = w.Write(n[:]) // hash writes never fail
	_, _ = w.Write(b)
}
