package helpere2e_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/prereq"
)

// childEnv makes the test binary act as a legacy application: it prints
// "ready <pid>" once started and "hup <n>" on its n-th SIGHUP, writes its
// pid to $HELPERE2E_PIDFILE when set, and exits 0 on SIGTERM.
const childEnv = "HELPERE2E_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	code := m.Run()
	if bin, err := helperBinary(); err == nil && helperBuilt {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

func runChild() int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM)
	fmt.Printf("ready %d\n", os.Getpid())
	if p := os.Getenv("HELPERE2E_PIDFILE"); p != "" {
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := os.Rename(tmp, p); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	n := 0
	for s := range sigs {
		if s == syscall.SIGTERM {
			return 0
		}
		n++
		fmt.Printf("hup %d\n", n)
	}
	return 0
}

// line is one line of a child's output with the time it arrived.
type line struct {
	text string
	at   time.Time
}

// lineSink is an io.Writer that hands each complete line to a channel.
type lineSink struct {
	mu    sync.Mutex
	buf   []byte
	lines chan line
}

func newLineSink() *lineSink { return &lineSink{lines: make(chan line, 1024)} }

func (s *lineSink) Write(p []byte) (int, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	for {
		i := strings.IndexByte(string(s.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case s.lines <- line{text: string(s.buf[:i]), at: now}:
		default:
		}
		s.buf = s.buf[i+1:]
	}
}

// waitLine returns the next line with prefix, failing after timeout.
func (s *lineSink) waitLine(t testing.TB, prefix string, timeout time.Duration) line {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-s.lines:
			if strings.HasPrefix(l.text, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("timed out after %s waiting for a line %q", timeout, prefix)
			return line{}
		}
	}
}

// waitContains returns the next line containing sub, failing after timeout.
func (s *lineSink) waitContains(t testing.TB, sub string, timeout time.Duration) line {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-s.lines:
			if strings.Contains(l.text, sub) {
				return l
			}
		case <-deadline:
			t.Fatalf("timed out after %s waiting for a line containing %q", timeout, sub)
			return line{}
		}
	}
}

// selfExe returns the test binary, used as the child program.
func selfExe(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// startApp starts the test binary as an application outside the helper's
// control that writes its pid to pidFile, and returns its output.
func startApp(t testing.TB, pidFile string) (*exec.Cmd, *lineSink) {
	t.Helper()
	out := newLineSink()
	cmd := exec.Command(selfExe(t))
	cmd.Env = append(os.Environ(), childEnv+"=1", "HELPERE2E_PIDFILE="+pidFile)
	cmd.Stdout = out
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return cmd, out
}

// helperBinary builds cmd/helper once per test binary run, with the flags
// of Taskfile.yml's build task.
var helperBinary = sync.OnceValues(func() (string, error) {
	if !helperWanted {
		return "", errors.New("not built")
	}
	helperBuilt = true
	dir, err := os.MkdirTemp("", "svhbin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "svidkit-helper")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "grpcnotrace", "-ldflags", "-s -w", "-o", bin, "github.com/svidkit/svidkit/cmd/helper")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/helper: %v\n%s", err, out)
	}
	return bin, nil
})

// helperWanted and helperBuilt let TestMain remove the binary after the
// tests without building it when no test needed it.
var helperWanted, helperBuilt bool

func buildHelper(t testing.TB) string {
	t.Helper()
	helperWanted = true
	prereq.Tool(t, "go", "needs the go toolchain to build cmd/helper")
	bin, err := helperBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// scanLines copies r's lines into a lineSink.
func scanLines(r *bufio.Scanner, s *lineSink) {
	for r.Scan() {
		_, _ = s.Write(append(r.Bytes(), '\n'))
	}
}
