package helpere2e_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/benchmetric"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/helper"
)

// updateRounds is the number of rotations BenchmarkUpdateToDisk measures.
const updateRounds = 40

// BenchmarkUpdateToDisk measures the helper's reaction to a rotated SVID
// against svidkit's real agent, with a real child process as cmd.
//
// Each round changes the entry's DNS names, so the agent mints a new SVID
// at its next sync and pushes it on the Workload API stream. Time zero is
// when the helper's X.509 watcher receives that update (Event.Received,
// taken before any work). Two intervals are reported:
//
//   - "disk-*": until the whole set (cert, key, bundle) is fsynced and
//     switched atomically and the reloader notified (Event.Done);
//   - "signal-*": until the child has received SIGHUP and its "hup" line
//     reached the test through its stdout pipe, an upper bound of signal
//     delivery.
//
// The agent's sync interval (when the new SVID is minted) is not the
// helper's latency and is excluded. spiffe-helper's figure for the same
// span is about 2 ms median without fsync or atomicity; the target is
// within 2x of it. The benchmark runs its own fixed number of rounds and
// ignores b.N.
func BenchmarkUpdateToDisk(b *testing.B) {
	e := startServer(b)
	ag := e.StartAgent(b, "a", e.JoinToken(b, testenv.NodePath))
	entryID := e.CreateEntry(b, workloadEntry("/app", 0))
	b.Setenv(childEnv, "1")
	for i, d := range certDirs(b) {
		b.Run(d.name, func(b *testing.B) { benchUpdate(b, e, ag.Socket, entryID, d.dir, i) })
	}
}

func benchUpdate(b *testing.B, e *testenv.Server, sock, entryID, dir string, run int) {
	cfg := helperConfig(b, sock)
	// A fresh directory on every call: with -benchtime above 1x the
	// framework calls this body again, and a set already on disk would be
	// left unchanged (no first write to wait for).
	setDir, err := os.MkdirTemp(dir, "set-")
	if err != nil {
		b.Fatal(err)
	}
	cfg.CertDir = setDir
	cfg.Cmd = selfExe(b)
	childOut := newLineSink()
	h := runHelper(b, cfg, childOut)
	first := waitWrite(b, h, 30*time.Second, "the first set", func(ev helper.Event) bool { return ev.Changed })
	childOut.waitLine(b, "ready", 10*time.Second)

	var disk, signal benchmetric.Latencies
	serial := first.Serial
	b.ResetTimer()
	for i := range updateRounds {
		e.SetDNSNames(b, entryID, fmt.Sprintf("r%d-%d.example.org", run, i))
		ev := waitWrite(b, h, 10*time.Second, "the rotated set", func(ev helper.Event) bool { return ev.Changed && ev.Serial != serial })
		serial = ev.Serial
		hup := childOut.waitLine(b, "hup", 5*time.Second)
		disk = append(disk, ev.Done.Sub(ev.Received))
		signal = append(signal, hup.at.Sub(ev.Received))
	}
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	disk.Report(b, "disk-", false)
	signal.Report(b, "signal-", false)
}

// BenchmarkResidentMemoryDaemon runs the real svidkit-helper binary in
// daemon mode against the real agent (X.509 files, one JWT-SVID, JWT
// bundle, health listener on) and reports its VmRSS and RssAnon after the
// first set is written and it has idled for two seconds. Target: VmRSS <
// 12 MiB (spiffe-helper: about 18 MiB). It runs once and ignores b.N.
//
// The binary is built as Taskfile.yml builds it (CGO_ENABLED=0, -trimpath,
// -tags grpcnotrace, -ldflags "-s -w"). Most of VmRSS is the binary
// itself: on this kernel a page fault in the executable maps the
// surrounding 64 KiB (fault-around), and start-up, gRPC, TLS/x509 and the
// GC touch nearly every 64 KiB window, so RssFile is about 90% of the
// binary's size (about 9.6 MiB of 10.6 MiB). Every 100 KB of code linked is
// about 100 KB resident; RssAnon (heap, stacks, runtime metadata) is about
// 2.1-2.4 MiB (it varies between runs of the same binary); each of the two
// fsnotify watchers (socket directory, cert_dir) runs its reader on a
// 128 KiB stack, as fsnotify reads into a 64 KiB array on it.
func BenchmarkResidentMemoryDaemon(b *testing.B) {
	bin := buildHelper(b)
	e := startServer(b)
	ag := e.StartAgent(b, "a", e.JoinToken(b, testenv.NodePath))
	e.CreateEntry(b, workloadEntry("/app", 0))
	certDir := b.TempDir()
	conf := writeConfig(b, ag.Socket, certDir, `daemon_mode = true
jwt_svids = [{ jwt_audience = "db", jwt_svid_file_name = "db.jwt" }]
jwt_bundle_file_name = "jwt_bundle.json"
health_checks {
  listener_enabled = true
  bind_port = `+fmt.Sprint(testenv.FreePort(b))+`
}
`)
	// daemon_mode appears twice otherwise; drop the one-shot line.
	data, _ := os.ReadFile(conf)
	if err := os.WriteFile(conf, []byte(strings.Replace(string(data), "daemon_mode = false\n", "", 1)), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", conf)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	logs := newLineSink()
	go scanLines(bufio.NewScanner(stderr), logs)
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	logs.waitContains(b, "X.509-SVID written", 30*time.Second)
	b.ResetTimer()
	time.Sleep(2 * time.Second) // let the daemon idle; there is nothing to wait for
	b.StopTimer()
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(benchmetric.ProcStatusMiB(b, cmd.Process.Pid, "VmRSS:"), "rss-MiB")
	b.ReportMetric(benchmetric.ProcStatusMiB(b, cmd.Process.Pid, "RssAnon:"), "anon-MiB")
	b.ReportMetric(benchmetric.ProcStatusMiB(b, cmd.Process.Pid, "VmHWM:"), "peak-MiB")
}

// BenchmarkOneShot times the real binary in one-shot mode while the SVID is
// already served: wall time from exec to exit (status 0), with the X.509
// files written and fsynced, one run per b.N, p50 and p99 reported. It
// also reports "in-helper-*": the part from the start of the wait to the
// files being durable, as the helper logs it, i.e. without process
// start-up and without loading the configuration. The agent attests each
// run's new pid (reading /proc and hashing the executable for the unix
// sha256 selector), which is inside both figures. Target: p50 <= 15 ms.
// Measured against "disk" (fsync of 3 files and 2 directories, the bulk of
// the disk/tmpfs difference) and "tmpfs"; `-version` alone, i.e. exec,
// runtime and package initialisation and exit, is about 6 ms of it.
func BenchmarkOneShot(b *testing.B) {
	bin := buildHelper(b)
	e := startServer(b)
	ag := e.StartAgent(b, "a", e.JoinToken(b, testenv.NodePath))
	e.CreateEntry(b, workloadEntry("/app", 0))
	for _, d := range certDirs(b) {
		b.Run(d.name, func(b *testing.B) { benchOneShot(b, bin, ag.Socket, d.dir) })
	}
}

func benchOneShot(b *testing.B, bin, sock, certDir string) {
	conf := writeConfig(b, sock, certDir, "")
	// The first run waits for the agent to mint; it is not measured.
	if out, err := exec.Command(bin, "-config", conf, "-timeout", "30s").CombinedOutput(); err != nil {
		b.Fatalf("first one-shot run: %v\n%s", err, out)
	}
	// Each measured run writes into an empty directory, as an init
	// container does: an unchanged set would be skipped without fsync.
	confs := make([]string, b.N)
	for i := range confs {
		dir, err := os.MkdirTemp(certDir, "run")
		if err != nil {
			b.Fatal(err)
		}
		confs[i] = writeConfig(b, sock, dir, "")
	}
	var wall, inside benchmetric.Latencies
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		out, err := exec.Command(bin, "-config", confs[i]).CombinedOutput()
		wall = append(wall, time.Since(start))
		if err != nil {
			b.Fatalf("svidkit-helper: %v\n%s", err, out)
		}
		inside = append(inside, elapsedFromLog(b, string(out)))
	}
	b.StopTimer()
	wall.Report(b, "", false)
	inside.Report(b, "in-helper-", false)
}

// elapsedFromLog returns the elapsed= value of the helper's final log line:
// the time from the start of the one-shot wait to the files being written,
// i.e. without process start-up and configuration loading.
func elapsedFromLog(b *testing.B, out string) time.Duration {
	for l := range strings.Lines(out) {
		if !strings.Contains(l, "exiting (daemon_mode = false)") {
			continue
		}
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "elapsed="); ok {
				d, err := time.ParseDuration(v)
				if err != nil {
					b.Fatalf("elapsed %q: %v", v, err)
				}
				return d
			}
		}
	}
	b.Fatalf("no elapsed= in the helper's log:\n%s", out)
	return 0
}

// certDir is a place to put cert_dir in a benchmark.
type certDir struct{ name, dir string }

// certDirs returns a directory on the test's file system ("disk") and, when
// /dev/shm is available, one on tmpfs ("tmpfs", like a Kubernetes emptyDir
// with medium Memory), where fsync costs nothing: the difference between
// the two is the cost of durability on this machine.
func certDirs(b *testing.B) []certDir {
	dirs := []certDir{{"disk", b.TempDir()}}
	if shm, err := os.MkdirTemp("/dev/shm", "svh"); err == nil {
		b.Cleanup(func() { os.RemoveAll(shm) })
		dirs = append(dirs, certDir{"tmpfs", shm})
	}
	return dirs
}
