package reloader_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper/reloader"
)

// pidConfig returns a Config that signals the process named by pidFile.
func pidConfig(pidFile string) (reloader.Config, *output) {
	log, logs := logger()
	return reloader.Config{
		PIDFile:       pidFile,
		PIDFileSettle: 20 * time.Millisecond,
		PIDFileRetry:  10 * time.Millisecond,
		Log:           log,
	}, logs
}

func TestPIDFileWrittenLateAndRestartedApp(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "app.pid")
	cfg, logs := pidConfig(pidFile)
	rr := start(t, cfg)

	rr.Notify() // the first write: no app yet
	logs.wait(t, "pid file absent")

	a := startApp(t, pidFileEnv+"="+pidFile)
	a.out.wait(t, "ready pid=")
	a.out.wait(t, "hup n=1\n") // signalled when its pid file appeared
	rr.Notify()
	a.out.wait(t, "hup n=2\n")

	// The app restarts: the new process writes a new pid and is signalled.
	a.kill()
	b := startApp(t, pidFileEnv+"="+pidFile)
	b.out.wait(t, "hup n=1\n")
	logs.wait(t, fmt.Sprintf(`msg="pid file names a new process" pid_file=%s pid=%d`, pidFile, b.pid()))
	rr.Notify()
	b.out.wait(t, "hup n=2\n")

	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	b.out.wait(t, "term hups=2\n")
	logs.waitCount(t, "signalled pid file process", 4) // logged after counting
	if got := counter(rr.Reloader, "svidkit_helper_signals_sent_total", "pidfile"); got != 4 {
		t.Fatalf("signals sent to pid file processes = %v, want 4", got)
	}
}

func TestPIDFileAppStartedBeforeNotifyIsSignalledOnce(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "app.pid")
	cfg, logs := pidConfig(pidFile)
	rr := start(t, cfg)
	a := startApp(t, pidFileEnv+"="+pidFile)
	a.out.wait(t, "ready pid=")
	logs.wait(t, "pid file changed before the first write; not signalled")
	rr.Notify() // reads the file and signals once
	a.out.wait(t, "hup n=1\n")
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a.out.wait(t, "term hups=1\n")
}

func TestPIDFileDirectoryCreatedLate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "app")
	pidFile := filepath.Join(dir, "app.pid")
	cfg, _ := pidConfig(pidFile)
	rr := start(t, cfg)
	rr.Notify()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := startApp(t, pidFileEnv+"="+pidFile)
	a.out.wait(t, "hup n=1\n")

	// The directory is removed and created again: the watch follows.
	a.kill()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := startApp(t, pidFileEnv+"="+pidFile)
	b.out.wait(t, "hup n=1\n")
}

func TestPIDFilePostgreSQLStyle(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "postmaster.pid")
	cfg, logs := pidConfig(pidFile)
	rr := start(t, cfg)
	rr.Notify()
	a := startApp(t, pidFileEnv+"="+pidFile, pgStyleEnv+"=1")
	a.out.wait(t, "hup n=1\n") // once, despite five writes

	// PostgreSQL later adds its status line: same pid, no new signal.
	f, err := os.OpenFile(pidFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("ready   \n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "its process was signalled already")

	rr.Notify() // the first line is the pid
	a.out.wait(t, "hup n=2\n")
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a.out.wait(t, "term hups=2\n")
}

func TestPIDFileBadContentIsLoggedNotFatal(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "app.pid")
	cfg, logs := pidConfig(pidFile)
	rr := start(t, cfg)

	tests := []struct {
		name, content, wantLog string
	}{
		{"empty", "", "first line is empty"},
		{"blank first line", "\n123\n", "first line is empty"},
		{"not a number", "nginx\n", `first line \"nginx\" is not a positive process id`},
		{"zero", "0\n", `\"0\" is not a positive process id`},
		{"negative", "-1\n", `\"-1\" is not a positive process id`},
		{"too large", "4294967295\n", `\"4294967295\" is not a positive process id`},
		{"two numbers", "12 34\n", `\"12 34\" is not a positive process id`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(pidFile, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			rr.Notify()
			logs.waitCount(t, "cannot signal pid file process", i+1)
			logs.wait(t, tt.wantLog)
		})
	}

	t.Run("process gone", func(t *testing.T) {
		a := startApp(t, exitEnv+"=0")
		<-a.waited
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(a.pid())+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		rr.Notify()
		logs.wait(t, fmt.Sprintf(`msg="pid file names a process that is gone" pid_file=%s pid=%d`, pidFile, a.pid()))
	})

	t.Run("recovers with a good pid", func(t *testing.T) {
		a := startApp(t)
		a.out.wait(t, "ready pid=")
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(a.pid())+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		a.out.wait(t, "hup n=1\n")
	})
	if err := rr.stop(t); err != nil {
		t.Fatalf("Run() = %v", err)
	}
}

func TestPIDFileOfChildIsSignalledOnce(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "app.pid")
	cfg, stdout, _, _ := appConfig(t, pidFileEnv+"="+pidFile)
	cfg.PIDFile = pidFile
	cfg.PIDFileSettle = 20 * time.Millisecond
	rr := start(t, cfg)
	rr.Notify()
	stdout.wait(t, "ready pid=")
	for i := 1; i <= 3; i++ {
		rr.Notify()
		stdout.wait(t, fmt.Sprintf("hup n=%d\n", i))
	}
	if err := rr.stop(t); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	stdout.wait(t, "term hups=3\n")
}
