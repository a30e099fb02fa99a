package helper_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/internal/prereq"
	"github.com/svidkit/svidkit/pkg/helper"
	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// mountFullTmpfs mounts a 64 KiB tmpfs on dir, fills it with a junk file
// so that every write fails with ENOSPC, and returns the junk file's path.
// The mount is removed when the test ends (after the cleanups registered
// later, such as stopping the helper). It needs root: it skips when not
// root and CI is unset, and fails under CI.
func mountFullTmpfs(t *testing.T, dir string) string {
	t.Helper()
	prereq.Root(t, "mounts a tmpfs")
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0755"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	junk := filepath.Join(dir, "junk")
	f, err := os.Create(junk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for i := 0; ; i++ {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill tmpfs: %v", err)
			}
			break
		}
		if i > 64 {
			t.Fatal("64 KiB tmpfs took more than 64 pages")
		}
	}
	return junk
}

// TestDaemonRetriesFailedWrite runs the helper on a full file system: the
// first write fails with ENOSPC (a real fault, no fake). Once space is
// freed the helper must write the set on its own, without a new update
// from the Workload API, and /ready must be 503 until it has. Before,
// the failed set stayed off disk until the next rotation.
func TestDaemonRetriesFailedWrite(t *testing.T) {
	ca := newCA(t)
	sock := sockDir(t)
	api := newFakeAPI(t, ca, sock)
	api.SetX509SVIDs(svid(t, ca, "/app", ""))
	api.Start(t)
	cfg := x509Config(t, sock)
	port := freeport.ForTest(t)
	cfg.Health = helperconfig.Health{ListenerEnabled: true, BindPort: port, LivenessPath: "/live", ReadinessPath: "/ready"}
	junk := mountFullTmpfs(t, cfg.CertDir)
	h, _ := start(t, cfg, helper.Options{RepairInterval: time.Hour})

	ev := waitEvent(t, h, 10*time.Second, "the failed write", func(e helper.Event) bool { return e.Kind == helper.EventWriteError })
	if !errors.Is(ev.Err, syscall.ENOSPC) {
		t.Fatalf("write error %v, want ENOSPC", ev.Err)
	}
	ready := fmt.Sprintf("http://127.0.0.1:%d/ready", port)
	if code, body := get(t, ready); code != http.StatusServiceUnavailable {
		t.Fatalf("/ready while the write fails: %d %s, want 503", code, body)
	}
	if _, err := os.Stat(filepath.Join(cfg.CertDir, "svid.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("svid.pem after a failed write: %v, want it absent", err)
	}

	if err := os.Remove(junk); err != nil {
		t.Fatal(err)
	}
	ev = waitEvent(t, h, 20*time.Second, "the set written again after space was freed", isWrite)
	if ev.Output != "retry" || !ev.Changed || !ev.Notified {
		t.Fatalf("write after freeing space = %+v, want a changed, notified retry", ev)
	}
	if got := readSVID(t, cfg.CertDir).URIs[0].String(); got != "spiffe://"+td+"/app" {
		t.Fatalf("svid.pem holds %s, want spiffe://%s/app", got, td)
	}
	if code, body := get(t, ready); code != http.StatusOK {
		t.Fatalf("/ready after the retry: %d %s, want 200", code, body)
	}
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	if _, body := get(t, metrics); !strings.Contains(body, "svidkit_helper_write_errors_total") ||
		strings.Contains(body, "svidkit_helper_write_errors_total 0\n") {
		t.Fatalf("/metrics does not count the failed writes:\n%s", body)
	}
}

// TestDaemonRetryWritesNewestUpdate checks that an update arriving while a
// failed set is being retried replaces it: once space is freed the newest
// SVID is written, never the one that failed first.
func TestDaemonRetryWritesNewestUpdate(t *testing.T) {
	ca := newCA(t)
	sock := sockDir(t)
	api := newFakeAPI(t, ca, sock)
	api.SetX509SVIDs(svid(t, ca, "/app", ""))
	api.Start(t)
	cfg := x509Config(t, sock)
	junk := mountFullTmpfs(t, cfg.CertDir)
	h, _ := start(t, cfg, helper.Options{RepairInterval: time.Hour})
	first := waitEvent(t, h, 10*time.Second, "the failed write", func(e helper.Event) bool { return e.Kind == helper.EventWriteError })

	newer := svid(t, ca, "/app", "")
	certs, err := x509.ParseCertificates(newer.X509Svid)
	if err != nil {
		t.Fatal(err)
	}
	api.SetX509SVIDs(newer)
	waitEvent(t, h, 10*time.Second, "the newer update failing too", func(e helper.Event) bool {
		return e.Kind == helper.EventWriteError && e.Output == "x509" && e.Serial != first.Serial
	})
	if err := os.Remove(junk); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, h, 20*time.Second, "the set written again after space was freed", isWrite)
	if ev.Output != "retry" {
		t.Fatalf("first write after freeing space = %+v, want the retry", ev)
	}
	if got := readSVID(t, cfg.CertDir).SerialNumber; got.Cmp(certs[0].SerialNumber) != 0 {
		t.Fatalf("serial on disk %v, want the newer update's %v", got, certs[0].SerialNumber)
	}
}
