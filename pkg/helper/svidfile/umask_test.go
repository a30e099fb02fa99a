package svidfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/svidkit/svidkit/pkg/helper/svidfile"
)

func TestOptionsUmask(t *testing.T) {
	tests := []struct {
		name      string
		umask     os.FileMode
		certMode  os.FileMode
		wantCert  os.FileMode
		wantKey   os.FileMode
		wantVer   os.FileMode
		wantError string
	}{
		{"zero writes exact modes", 0, 0o664, 0o664, 0o600, 0o755, ""},
		{"022", 0o022, 0o664, 0o644, 0o600, 0o755, ""},
		{"027", 0o027, 0o664, 0o640, 0o600, 0o750, ""},
		{"077 clears all but the owner", 0o077, 0o664, 0o600, 0o600, 0o700, ""},
		{"no permission left", 0o700, 0o600, 0, 0, 0, "leaves no permission"},
	}
	for _, mode := range []svidfile.Mode{svidfile.ModeAtomic, svidfile.ModePlain} {
		for _, tt := range tests {
			t.Run(mode.String()+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				w := mustNew(t, dir, svidfile.Options{Mode: mode, Umask: tt.umask})
				files := newPair(t).set()
				files[1].Mode, files[2].Mode = tt.certMode, tt.certMode
				changed, err := w.Write(files)
				if tt.wantError != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantError) {
						t.Fatalf("Write error = %v, want %q", err, tt.wantError)
					}
					return
				}
				if err != nil || !changed {
					t.Fatalf("Write = %v, %v", changed, err)
				}
				files[0].Mode, files[1].Mode, files[2].Mode = tt.wantKey, tt.wantCert, tt.wantCert
				assertVisible(t, dir, files)
				if mode == svidfile.ModeAtomic {
					fi, err := os.Stat(filepath.Join(dir, "..data"))
					if err != nil || fi.Mode().Perm() != tt.wantVer {
						t.Fatalf("version directory mode = %v, %v; want %v", fi.Mode().Perm(), err, tt.wantVer)
					}
				}
				// The same set again is unchanged: the masked modes on
				// disk are what was asked for.
				mustWrite(t, w, newPairSetWithModes(files, tt.certMode), false)
				if ok, err := w.Intact(); !ok || err != nil {
					t.Fatalf("Intact = %v, %v", ok, err)
				}
			})
		}
	}
}

// newPairSetWithModes returns files with the cert and bundle modes set back
// to the configured mode, as the caller passes them on every write.
func newPairSetWithModes(files []svidfile.File, certMode os.FileMode) []svidfile.File {
	out := append([]svidfile.File(nil), files...)
	out[0].Mode, out[1].Mode, out[2].Mode = 0o600, certMode, certMode
	return out
}

func TestProcessUmask(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	if got := svidfile.ProcessUmask(); got != 0o027 {
		t.Fatalf("ProcessUmask() = %#o, want 027", got)
	}
	if now := syscall.Umask(0o027); now != 0o027 {
		t.Fatalf("umask after ProcessUmask = %#o, want it unchanged (027)", now)
	}
}
