package helper_test

import (
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper"
)

func TestDaemonWritesRotatedSets(t *testing.T) {
	ca := newCA(t)
	sock := sockDir(t)
	api := newFakeAPI(ca, sock)
	first := ca.svid("/app", "", time.Hour)
	api.set(first)
	api.start(t)
	cfg := x509Config(t, sock)
	h, _ := start(t, cfg, helper.Options{})

	ev := waitEvent(t, h, 5*time.Second, "the first write", isWrite)
	if !ev.Changed || ev.SPIFFEID != "spiffe://"+td+"/app" {
		t.Fatalf("first event = %+v, want a changed write of spiffe://%s/app", ev, td)
	}
	if got := readSVID(t, cfg.CertDir).SerialNumber; got.Cmp(big.NewInt(101)) != 0 {
		t.Fatalf("serial on disk %v, want 101", got)
	}

	t.Run("rotation writes the new set", func(t *testing.T) {
		api.set(ca.svid("/app", "", time.Hour))
		ev := waitEvent(t, h, 5*time.Second, "the rotated write", func(e helper.Event) bool { return isWrite(e) && e.Serial == "66" })
		if !ev.Changed {
			t.Fatalf("rotated write not changed: %+v", ev)
		}
		if got := readSVID(t, cfg.CertDir).SerialNumber; got.Cmp(big.NewInt(0x66)) != 0 {
			t.Fatalf("serial on disk %v, want 102", got)
		}
	})

	t.Run("unchanged update rewrites nothing", func(t *testing.T) {
		api.mu.Lock()
		same := api.svids
		api.mu.Unlock()
		api.set(same...)
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
			api := newFakeAPI(ca, sock)
			api.set(ca.svid("/a", "external", time.Hour), ca.svid("/b", "internal", time.Hour))
			api.start(t)
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
	api := newFakeAPI(ca, sock)
	api.set(ca.svid("/app", "", time.Hour))
	api.start(t)
	cfg := x509Config(t, sock)
	h, _ := start(t, cfg, helper.Options{})
	waitEvent(t, h, 5*time.Second, "the first write", isWrite)

	api.stop()
	before := readSVID(t, cfg.CertDir) // files stay while the agent is away

	api2 := newFakeAPI(ca, sock)
	api2.set(ca.svid("/app", "", time.Hour))
	restarted := time.Now()
	api2.start(t)
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
			api := newFakeAPI(ca, sock)
			api.set(ca.svid("/app", "", time.Hour))
			api.start(t)
			cfg := x509Config(t, sock)
			h, _ := start(t, cfg, helper.Options{RepairInterval: time.Hour})
			waitEvent(t, h, 5*time.Second, "the first write", isWrite)
			tt.tamper(t, cfg.CertDir)
			waitEvent(t, h, 5*time.Second, "the repair", func(e helper.Event) bool { return e.Kind == helper.EventRepair })
			readSVID(t, cfg.CertDir)
		})
	}
}
