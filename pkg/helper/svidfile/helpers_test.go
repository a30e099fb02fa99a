package svidfile_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

// pair is a matching certificate and key in PEM.
type pair struct{ cert, key []byte }

// newPair returns a fresh X.509-SVID and its PKCS#8 key, from a test CA
// of its own.
func newPair(t testing.TB) pair {
	t.Helper()
	s := testca.NewForTest(t, "example.org").NewX509SVID(t, spiffeid.RequireFromString("spiffe://example.org/workload"))
	cert, key, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return pair{cert: cert, key: key}
}

// set is the usual three-file set for a pair.
func (p pair) set() []svidfile.File {
	return []svidfile.File{
		{Name: "key.pem", Data: p.key, Mode: 0o600},
		{Name: "cert.pem", Data: p.cert, Mode: 0o644},
		{Name: "bundle.pem", Data: p.cert, Mode: 0o644},
	}
}

var errTorn = errors.New("torn read")

// checkPair parses cert and key and reports errTorn if either does not
// parse or they do not belong together.
func checkPair(cert, key []byte) error {
	cb, _ := pem.Decode(cert)
	kb, _ := pem.Decode(key)
	if cb == nil || kb == nil {
		return errTorn
	}
	c, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return errTorn
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return errTorn
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(k.(*ecdsa.PrivateKey).Public()) {
		return errTorn
	}
	return nil
}

// readSet resolves "..data" once and reads cert and key from that version.
func readSet(dir string) (cert, key []byte, err error) {
	target, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil {
		return nil, nil, err
	}
	ver := filepath.Join(dir, target)
	if cert, err = os.ReadFile(filepath.Join(ver, "cert.pem")); err != nil {
		return nil, nil, err
	}
	if key, err = os.ReadFile(filepath.Join(ver, "key.pem")); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// readVisible resolves the visible cert.pem fully and reads key.pem from the
// same directory.
func readVisible(dir string) (cert, key []byte, err error) {
	real, err := filepath.EvalSymlinks(filepath.Join(dir, "cert.pem"))
	if err != nil {
		return nil, nil, err
	}
	if cert, err = os.ReadFile(real); err != nil {
		return nil, nil, err
	}
	if key, err = os.ReadFile(filepath.Join(filepath.Dir(real), "key.pem")); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

var versionRE = regexp.MustCompile(`^\.\.\d{8}T\d{6}\.\d{9}\.[0-9a-f]{8}$`)

// versions lists the version directories in dir.
func versions(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if versionRE.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

func mustNew(t testing.TB, dir string, opts svidfile.Options) *svidfile.Writer {
	t.Helper()
	w, err := svidfile.New(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func mustWrite(t testing.TB, w *svidfile.Writer, files []svidfile.File, wantChanged bool) {
	t.Helper()
	changed, err := w.Write(files)
	if err != nil {
		t.Fatal(err)
	}
	if changed != wantChanged {
		t.Fatalf("Write changed = %v, want %v", changed, wantChanged)
	}
}

// assertVisible checks that each file reads back through its visible name
// with the exact mode.
func assertVisible(t testing.TB, dir string, files []svidfile.File) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, f.Dir, f.Name)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read %s: %v", f.Name, err)
		}
		if !bytes.Equal(data, f.Data) {
			t.Fatalf("%s content differs", f.Name)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != f.Mode {
			t.Fatalf("%s mode = %v, want %v", f.Name, fi.Mode().Perm(), f.Mode)
		}
	}
}

// memDir returns a fresh directory on tmpfs when there is one. The
// rotation and crash tests are about what readers and the next writer see
// (a SIGKILL keeps the page cache), not about durability, so they run
// where fsync is cheap; the benchmarks use the real disk.
func memDir(t testing.TB) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("/dev/shm", "svidfile-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
