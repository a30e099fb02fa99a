package helper_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper"
)

// TestFileModesFollowUmask is the umask item of issue 10: spiffe-helper's
// file modes are subject to the process umask, so the same configuration
// must not give svidkit's files more permissions than spiffe-helper's.
// ignore_umask writes the configured modes exactly. The key stays 0600.
func TestFileModesFollowUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	tests := []struct {
		name        string
		writeMode   string
		ignoreUmask bool
		wantCert    os.FileMode // cert and bundle
	}{
		{"atomic, umask applies", "atomic", false, 0o644},
		{"plain, umask applies", "plain", false, 0o644},
		{"atomic, ignore_umask", "atomic", true, 0o664},
		{"plain, ignore_umask", "plain", true, 0o664},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := newCA(t)
			sock := sockDir(t)
			api := newFakeAPI(t, ca, sock)
			api.SetX509SVIDs(svid(t, ca, "/app", ""))
			api.Start(t)
			cfg := oneShot(t, sock)
			cfg.WriteMode = tt.writeMode
			cfg.CertFileMode = 0o664
			cfg.IgnoreUmask = tt.ignoreUmask
			_, res := start(t, cfg, helper.Options{})
			if err := result(t, res, 10*time.Second); err != nil {
				t.Fatalf("Run = %v", err)
			}
			for name, want := range map[string]os.FileMode{
				cfg.SVIDFileName:       tt.wantCert,
				cfg.SVIDBundleFileName: tt.wantCert,
				cfg.SVIDKeyFileName:    0o600,
			} {
				fi, err := os.Stat(filepath.Join(cfg.CertDir, name))
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != want {
					t.Errorf("%s mode = %#o, want %#o", name, got, want)
				}
			}
		})
	}
}
