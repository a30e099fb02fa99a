package svidformat_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
	"github.com/svidkit/svidkit/pkg/helper/svidformat"
)

// TestFilesThroughWriter writes the produced set with svidfile and loads
// it back the way a TLS server would.
func TestFilesThroughWriter(t *testing.T) {
	for _, mode := range []svidfile.Mode{svidfile.ModeAtomic, svidfile.ModePlain} {
		t.Run(mode.String(), func(t *testing.T) {
			f := newFixture(t, nil)
			dir := t.TempDir()
			w, err := svidfile.New(dir, svidfile.Options{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			files, err := svidformat.X509Files(f.svid, f.bundles, baseOpts())
			if err != nil {
				t.Fatal(err)
			}
			if changed, err := w.Write(files); !changed || err != nil {
				t.Fatalf("Write = %v, %v", changed, err)
			}
			if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "svid.pem"), filepath.Join(dir, "svid_key.pem")); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(dir, "svid_key.pem"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key mode %v, %v", fi.Mode().Perm(), err)
			}
			again, err := svidformat.X509Files(f.svid, f.bundles, baseOpts())
			if err != nil {
				t.Fatal(err)
			}
			if changed, err := w.Write(again); changed || err != nil {
				t.Fatalf("rewrite of the same SVID = %v, %v", changed, err)
			}
		})
	}
}
