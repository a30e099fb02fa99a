package helper_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper"
)

func TestDaemonWritesRotatedSets(t *testing.T) {
	ca := newCA(t)
	sock := sockDir(t)
	api := newFakeAPI(t, ca, sock)
	first, rotated := svid(t, ca, "/app", ""), svid(t, ca, "/app", "")
	api.SetX509SVIDs(first)
	api.Start(t)
	cfg := x509Config(t, sock)
	h, _ := start(t, cfg, helper.Options{})

	ev := waitEvent(t, h, 5*time.Second, "the first write", isWrite)
	if !ev.Changed || ev.SPIFFEID != "spiffe://"+td+"/app" {
		t.Fatalf("first event = %+v, want a changed write of spiffe://%s/app", ev, td)
	}
	if got := readSVID(t, cfg.CertDir).SerialNumber.Text(16); got != serialHex(t, first) {
		t.Fatalf("serial on disk %s, want the first SVID's %s", got, serialHex(t, first))
	}

	t.Run("rotation writes the new set", func(t *testing.T) {
		api.SetX509SVIDs(rotated)
		want := serialHex(t, rotated)
		ev := waitEvent(t, h, 5*time.Second, "the rotated write", func(e helper.Event) bool { return isWrite(e) && e.Serial == want })
		if !ev.Changed {
			t.Fatalf("rotated write not changed: %+v", ev)
		}
		if got := readSVID(t, cfg.CertDir).SerialNumber.Text(16); got != want {
			t.Fatalf("serial on disk %s, want the rotated SVID's %s", got, want)
		}
	})

	t.Run("unchanged update rewrites nothing", func(t *testing.T) {
		api.SetX509SVIDs(rotated)
		ev := waitEvent(t, h, 5*time.Second, "the repeated write", isWrite)
		if ev.Changed || ev.Notified {
			t.Fatalf("identical update gave %+v, want Changed=false Notified=false", ev)
		}
	})

	t.Run("file modes", func(t *testing.T) {
		for name, want := range map[string]os.FileMode{"svid.pem": 0o644, "svid_key.pem": 0o600, "svid_bundle.pem": 0o644} {
			fi, err := os.Stat(filepath.Join(cfg.CertDir, name))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s mode %#o, want %#o", name, got, want)
			}
		}
	})
}

func TestDaemonPicksHint(t *testing.T) {
	tests := []struct {
		name, hint, wantPath string
	}{
		{"no hint takes the first", "", "/a"},
		{"hint picks its SVID", "internal", "/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := newCA(t)
			sock := sockDir(t)
			api := newFakeAPI(t, ca, sock)
			api.SetX509SVIDs(svid(t, ca, "/a", "external"), svid(t, ca, "/b", "internal"))
			api.Start(t)
			cfg := x509Config(t, sock)
			cfg.Hint = tt.hint
			h, _ := start(t, cfg, helper.Options{})
			ev := waitEvent(t, h, 5*time.Second, "the first write", isWrite)
			if want := "spiffe://" + td + tt.wantPath; ev.SPIFFEID != want {
				t.Fatalf("wrote %s, want %s", ev.SPIFFEID, want)
			}
			if got := readSVID(t, cfg.CertDir).URIs[0].Path; got != tt.wantPath {
				t.Fatalf("file holds %s, want %s", got, tt.wantPath)
			}
		})
	}
}

func TestDaemonReconnectsWhenSocketRecreated(t *testing.T) {
	ca := newCA(t)
	sock := sockDir(t)
	api := newFakeAPI(t, ca, sock)
	api.SetX509SVIDs(svid(t, ca, "/app", ""))
	api.Start(t)
	cfg := x509Config(t, sock)
	h, _ := start(t, cfg, helper.Options{})
	waitEvent(t, h, 5*time.Second, "the first write", isWrite)

	api.Stop()
	before := readSVID(t, cfg.CertDir) // files stay while the agent is away

	api.SetX509SVIDs(svid(t, ca, "/app", ""))
	restarted := time.Now()
	api.Start(t) // the agent back on a new socket at the same path
	ev := waitEvent(t, h, 5*time.Second, "a write from the restarted agent", func(e helper.Event) bool { return isWrite(e) && e.Changed })
	after := readSVID(t, cfg.CertDir)
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Fatal("serial unchanged after the agent restart")
	}
	// Without the socket watch gRPC would wait out its reconnect backoff.
	t.Logf("reconnected and wrote %v after the new socket appeared", ev.Done.Sub(restarted))
}

func TestDaemonRepairsTamperedFiles(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
	}{
		{"deleted certificate", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "svid.pem")); err != nil {
				t.Fatal(err)
			}
		}},
		{"overwritten key", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "svid_key.pem")); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "svid_key.pem"), []byte("junk"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := newCA(t)
			sock := sockDir(t)
			api := newFakeAPI(t, ca, sock)
			api.SetX509SVIDs(svid(t, ca, "/app", ""))
			api.Start(t)
			cfg := x509Config(t, sock)
			h, _ := start(t, cfg, helper.Options{RepairInterval: time.Hour})
			waitEvent(t, h, 5*time.Second, "the first write", isWrite)
			tt.tamper(t, cfg.CertDir)
			waitEvent(t, h, 5*time.Second, "the repair", func(e helper.Event) bool { return e.Kind == helper.EventRepair })
			readSVID(t, cfg.CertDir)
		})
	}
}
