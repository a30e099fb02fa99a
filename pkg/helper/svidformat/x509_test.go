package svidformat_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
	"github.com/svidkit/svidkit/pkg/helper/svidformat"
)

func baseOpts() svidformat.Options {
	return svidformat.Options{SVIDFileName: "svid.pem", KeyFileName: "svid_key.pem", BundleFileName: "svid_bundle.pem", Now: func() time.Time { return now }}
}

// pemCerts is the reference encoding: one CERTIFICATE block per cert.
func pemCerts(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if out == nil {
		return []byte{}
	}
	return out
}

func byName(t *testing.T, files []svidfile.File) map[string]svidfile.File {
	t.Helper()
	m := make(map[string]svidfile.File, len(files))
	for _, f := range files {
		m[f.Name] = f
	}
	return m
}

func TestX509FilesLayout(t *testing.T) {
	f := newFixture(t, nil)
	keyDER, err := x509.MarshalPKCS8PrivateKey(f.svid.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	wantKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	leaf, inter := f.svid.Certificates[0], f.inter.Cert()
	tests := []struct {
		name             string
		opts             func(*svidformat.Options)
		wantSVID, wantBd []byte
	}{
		{"defaults", func(*svidformat.Options) {}, pemCerts(leaf, inter), pemCerts(f.root.Root())},
		{"add intermediates to bundle", func(o *svidformat.Options) { o.AddIntermediatesToBundle = true },
			pemCerts(leaf), pemCerts(f.root.Root(), inter)},
		{"federated", func(o *svidformat.Options) { o.IncludeFederatedDomains = true },
			pemCerts(leaf, inter), pemCerts(f.root.Root(), f.fedA.Root(), f.fedZ.Root())},
		{"intermediates and federated", func(o *svidformat.Options) {
			o.AddIntermediatesToBundle = true
			o.IncludeFederatedDomains = true
		}, pemCerts(leaf), pemCerts(f.root.Root(), inter, f.fedA.Root(), f.fedZ.Root())},
		{"custom modes", func(o *svidformat.Options) {
			o.CertFileMode = 0o640
			o.KeyFileMode = 0o400
		}, pemCerts(leaf, inter), pemCerts(f.root.Root())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := baseOpts()
			tt.opts(&opts)
			files, err := svidformat.X509Files(f.svid, f.bundles, opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 3 || files[0].Name != "svid_key.pem" || files[1].Name != "svid.pem" || files[2].Name != "svid_bundle.pem" {
				t.Fatalf("files = %v, want key, svid, bundle in this order", names(files))
			}
			certMode, keyMode := opts.CertFileMode, opts.KeyFileMode
			if certMode == 0 {
				certMode, keyMode = 0o644, 0o600
			}
			check(t, files[0], wantKey, keyMode)
			check(t, files[1], tt.wantSVID, certMode)
			check(t, files[2], tt.wantBd, certMode)
		})
	}
}

func names(files []svidfile.File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

func check(t *testing.T, f svidfile.File, want []byte, mode os.FileMode) {
	t.Helper()
	if !bytes.Equal(f.Data, want) {
		t.Errorf("%s content:\n%s\nwant:\n%s", f.Name, f.Data, want)
	}
	if f.Mode != mode {
		t.Errorf("%s mode = %v, want %v", f.Name, f.Mode, mode)
	}
}

func TestOmitExpired(t *testing.T) {
	f := newFixture(t, nil)
	// A root whose clock read 25 hours ago expired an hour and a minute ago.
	expired := newCA(t, "example.org", now.Add(-25*time.Hour))
	td := spiffeid.RequireTrustDomainFromString("example.org")
	bundles := x509bundle.NewSet(x509bundle.FromX509Authorities(td, []*x509.Certificate{expired.Root(), f.root.Root()}))
	tests := []struct {
		name       string
		omit       bool
		wantBundle []byte
	}{
		{"kept by default", false, pemCerts(expired.Root(), f.root.Root())},
		{"omitted", true, pemCerts(f.root.Root())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := baseOpts()
			opts.OmitExpired = tt.omit
			files, err := svidformat.X509Files(f.svid, bundles, opts)
			if err != nil {
				t.Fatal(err)
			}
			check(t, files[2], tt.wantBundle, 0o644)
		})
	}
}

func TestKeyEncodings(t *testing.T) {
	ec, rsaFix := newFixture(t, nil), newFixture(t, rsaKey(t))
	tests := []struct {
		name     string
		fix      fixture
		enc      svidformat.KeyEncoding
		wantType string
		wantErr  string
	}{
		{"ec pkcs8", ec, "", "PRIVATE KEY", ""},
		{"ec sec1", ec, svidformat.KeySEC1, "EC PRIVATE KEY", ""},
		{"ec pkcs1", ec, svidformat.KeyPKCS1, "", `KeyEncoding "pkcs1" needs an RSA key`},
		{"rsa pkcs8", rsaFix, svidformat.KeyPKCS8, "PRIVATE KEY", ""},
		{"rsa pkcs1", rsaFix, svidformat.KeyPKCS1, "RSA PRIVATE KEY", ""},
		{"rsa sec1", rsaFix, svidformat.KeySEC1, "", `KeyEncoding "sec1" needs an ECDSA key`},
		{"unknown", ec, "der", "", `unknown KeyEncoding "der"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := baseOpts()
			opts.KeyEncoding = tt.enc
			files, err := svidformat.X509Files(tt.fix.svid, tt.fix.bundles, opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode(files[0].Data)
			if block == nil || block.Type != tt.wantType || len(rest) != 0 {
				t.Fatalf("key PEM = %q", files[0].Data)
			}
			// The key parses in its encoding and matches the leaf.
			if _, err := tls.X509KeyPair(files[1].Data, files[0].Data); err != nil {
				t.Fatalf("key does not pair with the SVID: %v", err)
			}
		})
	}
}

func TestCombinedFile(t *testing.T) {
	f := newFixture(t, nil)
	opts := baseOpts()
	opts.CombinedFileName = "haproxy.pem"
	files, err := svidformat.X509Files(f.svid, f.bundles, opts)
	if err != nil {
		t.Fatal(err)
	}
	m := byName(t, files)
	combined := m["haproxy.pem"]
	if want := append(append([]byte{}, m["svid.pem"].Data...), m["svid_key.pem"].Data...); !bytes.Equal(combined.Data, want) {
		t.Fatalf("combined file is not chain then key:\n%s", combined.Data)
	}
	if combined.Mode != 0o600 {
		t.Fatalf("combined mode = %v, want 0600 (it holds the key)", combined.Mode)
	}
	cert, err := tls.X509KeyPair(combined.Data, combined.Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != 2 {
		t.Fatalf("combined chain has %d certificates, want 2", len(cert.Certificate))
	}
}

func TestX509FilesErrors(t *testing.T) {
	f := newFixture(t, nil)
	other := newCA(t, "a.org", now)
	foreign := x509bundle.NewSet(x509bundle.FromX509Authorities(spiffeid.RequireTrustDomainFromString("a.org"), []*x509.Certificate{other.Root()}))
	tests := []struct {
		name    string
		mutate  func(*svidformat.Options)
		bundles *x509bundle.Set
		wantErr string
	}{
		{"no svid name", func(o *svidformat.Options) { o.SVIDFileName = "" }, f.bundles, "svid_file_name"},
		{"no key name", func(o *svidformat.Options) { o.KeyFileName = "" }, f.bundles, "svid_key_file_name"},
		{"no bundle name", func(o *svidformat.Options) { o.BundleFileName = "" }, f.bundles, "svid_bundle_file_name"},
		{"no bundle for trust domain", func(*svidformat.Options) {}, foreign, `no X.509 bundle for trust domain "example.org"`},
		{"nil bundle set", func(*svidformat.Options) {}, nil, "no X.509 bundle set"},
		{"pkcs12 without password file", func(o *svidformat.Options) { o.PKCS12FileName = "ks.p12" }, f.bundles, "PKCS12PasswordFile is empty"},
		{"pkcs12 missing password file", func(o *svidformat.Options) {
			o.PKCS12FileName = "ks.p12"
			o.PKCS12PasswordFile = filepath.Join(t.TempDir(), "nope")
		}, f.bundles, `PKCS12PasswordFile "`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := baseOpts()
			tt.mutate(&opts)
			_, err := svidformat.X509Files(f.svid, tt.bundles, opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	if _, err := svidformat.X509Files(nil, f.bundles, baseOpts()); err == nil {
		t.Fatal("nil SVID accepted")
	}
}
