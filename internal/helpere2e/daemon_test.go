package helpere2e_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/helper"
	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// helperConfig is a daemon-mode configuration for the agent at sock.
func helperConfig(t testing.TB, sock string) *helperconfig.Config {
	t.Helper()
	c := helperconfig.New()
	c.AgentAddress = sock
	c.CertDir = t.TempDir()
	c.SVIDFileName, c.SVIDKeyFileName, c.SVIDBundleFileName = "svid.pem", "svid_key.pem", "svid_bundle.pem"
	c.RenewSignal, c.RenewSignalName = syscall.SIGHUP, "SIGHUP"
	return c
}

// runHelper runs an in-process Helper until the test ends.
func runHelper(t testing.TB, cfg *helperconfig.Config, stdout *lineSink) *helper.Helper {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h, err := helper.New(cfg, helper.Options{Log: testenv.Logger(), Stdout: stdout, Stderr: os.Stderr})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("helper Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("helper did not stop within 20s")
		}
	})
	return h
}

func waitWrite(t testing.TB, h *helper.Helper, timeout time.Duration, what string, cond func(helper.Event) bool) helper.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-h.Events():
			if ev.Kind == helper.EventWriteError {
				t.Errorf("write error: %v", ev.Err)
			}
			if ev.Kind == helper.EventWrite && cond(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
			return helper.Event{}
		}
	}
}

// readPair resolves the directory once (through ..data, as a careful
// reader does), parses certificate and key and reports whether they match.
func readPair(dir string) (cert *x509.Certificate, match bool, err error) {
	data, err := filepath.EvalSymlinks(filepath.Join(dir, "..data"))
	if err != nil {
		return nil, false, err
	}
	certPEM, err := os.ReadFile(filepath.Join(data, "svid.pem"))
	if err != nil {
		return nil, false, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(data, "svid_key.pem"))
	if err != nil {
		return nil, false, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, false, os.ErrInvalid
	}
	cert, err = x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, false, err
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, false, err
	}
	return cert, reflect.DeepEqual(key.(crypto.Signer).Public(), cert.PublicKey), nil
}

func mustPair(t testing.TB, dir string) *x509.Certificate {
	t.Helper()
	cert, match, err := readPair(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !match {
		t.Fatal("certificate and key on disk do not match")
	}
	return cert
}

// childWait bounds the wait for a line of the helper's child (a re-run of
// this test binary): an event, not a speed; a loaded CI machine can take
// seconds to start a process.
const childWait = time.Minute

func TestDaemonAgainstAgent(t *testing.T) {
	e := startServer(t)
	ag := e.StartAgent(t, "a", e.JoinToken(t, testenv.NodePath))
	e.CreateEntry(t, workloadEntry("/app", 4)) // 4s TTL: rotation every ~2s

	cfg := helperConfig(t, ag.Socket)
	cfg.Cmd = selfExe(t)
	childOut := newLineSink()
	pidFile := filepath.Join(t.TempDir(), "app.pid")
	cfg.PIDFileName = pidFile
	t.Setenv(childEnv, "1") // the helper's child inherits the environment
	h := runHelper(t, cfg, childOut)

	first := waitWrite(t, h, 15*time.Second, "the first set", func(ev helper.Event) bool { return ev.Changed })
	if !first.Notified {
		t.Fatalf("first write did not notify the reloader: %+v", first)
	}
	childOut.waitLine(t, "ready", childWait)
	mustPair(t, cfg.CertDir)

	t.Run("rotation writes consistent sets and signals the child after each", func(t *testing.T) {
		// A reader that resolves the directory keeps checking pairs meanwhile.
		stop := make(chan struct{})
		readerDone := make(chan error, 1)
		go func() {
			var err error
			defer func() { readerDone <- err }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, match, rerr := readPair(cfg.CertDir)
				if rerr == nil && !match {
					err = os.ErrInvalid
					return
				}
			}
		}()
		serial := first.Serial
		for i := 1; i <= 2; i++ {
			ev := waitWrite(t, h, 10*time.Second, "a rotated set", func(ev helper.Event) bool { return ev.Changed && ev.Serial != serial })
			serial = ev.Serial
			if !ev.Notified {
				t.Fatalf("rotated write did not notify: %+v", ev)
			}
			childOut.waitLine(t, "hup", childWait)
			mustPair(t, cfg.CertDir)
		}
		close(stop)
		if err := <-readerDone; err != nil {
			t.Fatal("a reader saw a certificate with a key that does not match it")
		}
	})

	t.Run("late pid file and restarted application are signalled", func(t *testing.T) {
		app, out := startApp(t, pidFile)
		out.waitLine(t, "ready", childWait)
		out.waitLine(t, "hup", childWait) // the pid file appeared after the first write
		_ = app.Process.Signal(syscall.SIGTERM)
		_ = app.Wait()
		_, out2 := startApp(t, pidFile) // restarted at a new pid
		out2.waitLine(t, "ready", childWait)
		out2.waitLine(t, "hup", childWait)
	})

	t.Run("agent restart: files kept, helper reconnects", func(t *testing.T) {
		ag.Stop()
		before := mustPair(t, cfg.CertDir)
		if _, err := os.Stat(ag.Socket); err == nil {
			t.Log("agent left its socket file behind")
		}
		restarted := time.Now()
		e.StartAgent(t, "a", "")
		ev := waitWrite(t, h, 15*time.Second, "a write after the agent restart", func(ev helper.Event) bool { return ev.Received.After(restarted) })
		t.Logf("first update %v after the agent restart (changed=%v)", ev.Received.Sub(restarted), ev.Changed)
		after := mustPair(t, cfg.CertDir)
		if after.NotAfter.Before(before.NotAfter) {
			t.Fatal("older SVID on disk after the restart")
		}
	})
}
