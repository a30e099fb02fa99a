package svidformat_test

import (
	"bytes"
	"crypto/ecdsa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/svidkit/svidkit/pkg/helper/svidformat"
)

func TestPKCS12(t *testing.T) {
	f := newFixture(t, nil)
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := baseOpts()
	opts.PKCS12FileName = "keystore.p12"
	opts.PKCS12TrustStoreFileName = "truststore.p12"
	opts.PKCS12PasswordFile = pwFile
	opts.IncludeFederatedDomains = true
	files, err := svidformat.X509Files(f.svid, f.bundles, opts)
	if err != nil {
		t.Fatal(err)
	}
	m := byName(t, files)
	ks, ts := m["keystore.p12"], m["truststore.p12"]
	if ks.Mode != 0o600 || ts.Mode != 0o644 {
		t.Fatalf("modes keystore %v truststore %v, want 0600 and 0644", ks.Mode, ts.Mode)
	}

	t.Run("keystore decodes with the trimmed password", func(t *testing.T) {
		key, leaf, cas, err := pkcs12.DecodeChain(ks.Data, "s3cret")
		if err != nil {
			t.Fatal(err)
		}
		if !key.(*ecdsa.PrivateKey).Equal(f.svid.PrivateKey) {
			t.Error("key differs")
		}
		if !leaf.Equal(f.svid.Certificates[0]) || len(cas) != 1 || !cas[0].Equal(f.inter.Cert()) {
			t.Error("chain differs")
		}
	})
	t.Run("wrong password fails", func(t *testing.T) {
		if _, _, _, err := pkcs12.DecodeChain(ks.Data, "s3cret\n"); err == nil {
			t.Fatal("decoded with the untrimmed password")
		}
	})
	t.Run("truststore holds the bundle", func(t *testing.T) {
		certs, err := pkcs12.DecodeTrustStore(ts.Data, "s3cret")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"example.org", "a.org", "z.org"} // testca names its roots by trust domain
		if len(certs) != len(want) {
			t.Fatalf("truststore has %d certificates, want %d", len(certs), len(want))
		}
		for i, c := range certs {
			if c.Subject.CommonName != want[i] {
				t.Errorf("truststore[%d] = %s, want %s", i, c.Subject.CommonName, want[i])
			}
		}
	})
	t.Run("deterministic for unchanged input", func(t *testing.T) {
		again, err := svidformat.X509Files(f.svid, f.bundles, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(byName(t, again)["keystore.p12"].Data, ks.Data) {
			t.Fatal("unchanged SVID gave a different keystore: every update would be a write")
		}
	})
	t.Run("password change changes the file", func(t *testing.T) {
		if err := os.WriteFile(pwFile, []byte("other\r\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := svidformat.X509Files(f.svid, f.bundles, opts)
		if err != nil {
			t.Fatal(err)
		}
		data := byName(t, again)["keystore.p12"].Data
		if bytes.Equal(data, ks.Data) {
			t.Fatal("new password gave the same keystore")
		}
		if _, _, _, err := pkcs12.DecodeChain(data, "other"); err != nil {
			t.Fatalf("CRLF not trimmed: %v", err)
		}
	})
	t.Run("empty password rejected", func(t *testing.T) {
		if err := os.WriteFile(pwFile, []byte("\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := svidformat.X509Files(f.svid, f.bundles, opts)
		if err == nil || !strings.Contains(err.Error(), "empty password") {
			t.Fatalf("error = %v", err)
		}
	})
}
