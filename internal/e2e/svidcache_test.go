package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/agent/cache"
)

// With childSVIDSocket set, the test binary is a workload reporting its
// X.509-SVID: in mode "fetch" it connects, calls FetchX509SVID once and
// prints "<SPIFFE ID> <serial> <nanoseconds from connect to SVID>"; in mode "watch" it prints that line for every
// X.509 context until its stdin closes. Errors are printed as "error: …"
// and make it exit 1. Run from a copy at another path (workloadCopy), it
// gets its own unix:path selector.
const (
	childSVIDSocket = "E2E_SVID_SOCKET"
	childSVIDMode   = "E2E_SVID_MODE"
)

// svidChild is the workload's main; it returns the exit code.
func svidChild(sock, mode string) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fail := func(err error) int {
		fmt.Printf("error: %v\n", err)
		return 1
	}
	start := time.Now()
	c, err := workloadapi.New(ctx, workloadapi.WithAddr("unix://"+sock))
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	if mode == "fetch" {
		svid, err := c.FetchX509SVID(ctx)
		if err != nil {
			return fail(err)
		}
		fmt.Printf("%s %s %d\n", svid.ID, svid.Certificates[0].SerialNumber, time.Since(start))
		return 0
	}
	wctx, stop := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	err = c.WatchX509Context(wctx, watchFunc(func(x *workloadapi.X509Context) {
		if len(x.SVIDs) == 0 {
			fmt.Println("error: an X.509 context without SVIDs")
			return
		}
		fmt.Printf("%s %s\n", x.SVIDs[0].ID, x.SVIDs[0].Certificates[0].SerialNumber)
	}))
	if wctx.Err() == nil {
		return fail(err)
	}
	return 0
}

// svidWorkload is one workload process: a copy of the test binary with its
// own path, hence its own entry.
type svidWorkload struct {
	exe, sock string
}

// fetch runs the workload once and returns its SVID's serial, failing the
// test when the fetch fails or returns another SPIFFE ID than want.
func (w svidWorkload) fetch(t testing.TB, want string) string {
	t.Helper()
	serial, _ := w.timedFetch(t, want)
	return serial
}

// timedFetch is fetch, also returning how long the workload took from
// connecting to holding its SVID.
func (w svidWorkload) timedFetch(t testing.TB, want string) (string, time.Duration) {
	t.Helper()
	cmd := exec.Command(w.exe)
	cmd.Env = append(os.Environ(), childSVIDSocket+"="+w.sock, childSVIDMode+"=fetch")
	out, err := cmd.CombinedOutput()
	f := strings.Fields(string(out))
	var ns int64
	if len(f) == 3 {
		ns, err = strconv.ParseInt(f[2], 10, 64)
	}
	if err != nil || len(f) != 3 || f[0] != want {
		t.Fatalf("workload %s: FetchX509SVID: %v: %s (want %s)", w.exe, err, out, want)
	}
	return f[1], time.Duration(ns)
}

// svidWatcher is a running workload in watch mode.
type svidWatcher struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// watch starts the workload in watch mode.
func (w svidWorkload) watch(t *testing.T) *svidWatcher {
	t.Helper()
	cmd := exec.Command(w.exe)
	cmd.Env = append(os.Environ(), childSVIDSocket+"="+w.sock, childSVIDMode+"=watch")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wt := &svidWatcher{cmd: cmd, stdin: stdin, lines: make(chan string, 100)}
	go func() {
		defer close(wt.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			wt.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return wt
}

// next returns the watcher's next line, failing after timeout.
func (wt *svidWatcher) next(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-wt.lines:
		if !ok {
			t.Fatal("the watching workload exited")
		}
		return l
	case <-time.After(timeout):
		t.Fatalf("no X.509 context within %v", timeout)
		return ""
	}
}

// stop closes the watcher's stdin and returns the lines it printed since
// the last next, failing unless it exits 0.
func (wt *svidWatcher) stop(t *testing.T) []string {
	t.Helper()
	wt.stdin.Close()
	var out []string
	for l := range wt.lines {
		out = append(out, l)
	}
	if err := wt.cmd.Wait(); err != nil {
		t.Fatalf("the watching workload: %v: %v", err, out)
	}
	return out
}

// TestX509SVIDCacheMaxSizeWorkloads runs the real agent with
// x509_svid_cache_max_size 2 and six workload entries, each for a go-spiffe
// client in a process of its own (told apart by unix:path), and checks
// what workloads see: every FetchX509SVID succeeds, whether the entry's
// SVID is held or not; the agent holds at most 2 SVIDs once calls are
// over (3 while one workload watches); a workload whose SVID was evicted
// gets a freshly minted one on its next call; and a watching workload
// keeps its SVID, and is sent nothing new, while the others come and go.
func TestX509SVIDCacheMaxSizeWorkloads(t *testing.T) {
	const (
		max = 2
		n   = 6
	)
	srv := startServer(t, testenv.Options{})
	cfg := srv.AgentConfig(t, "a", srv.JoinToken(t, "/node"))
	cfg.X509SVIDCacheMaxSize = max
	ag := srv.StartAgentWith(t, "a", cfg)
	c := ag.Agent.Manager().(*cache.Cache)
	wls := make([]svidWorkload, n)
	ids := make([]string, n)
	for i := range wls {
		wls[i] = svidWorkload{exe: workloadCopy(t, fmt.Sprintf("workload-%d", i)), sock: ag.Socket}
		path := fmt.Sprintf("/wl/%d", i)
		srv.CreateEntry(t, testenv.Entry{Path: path, ParentPath: "/node", Selectors: []string{"unix:path:" + wls[i].exe}})
		ids[i] = "spiffe://" + trustDomain + path
	}
	// The workload entries and the join token's alias entry.
	pollUntil(t, 30*time.Second, 10*time.Millisecond, "the agent to sync and fill its cache", func() bool {
		return len(c.Entries()) == n+1 && c.SVIDCount() == max && len(c.StaleEntries(time.Now())) == 0
	})
	heldAtMost := func(t *testing.T, limit int, after string) {
		t.Helper()
		pollUntil(t, 10*time.Second, 10*time.Millisecond, fmt.Sprintf("at most %d SVIDs held after %s", limit, after), func() bool {
			return c.SVIDCount() <= limit
		})
	}

	serials := make([]string, n)
	t.Run("every workload gets its SVID, held or not", func(t *testing.T) {
		for i, w := range wls {
			serials[i] = w.fetch(t, ids[i])
			heldAtMost(t, max, fmt.Sprintf("workload %d's call", i))
		}
	})
	// Workloads 4 and 5 called last: the others' SVIDs were evicted.
	t.Run("an evicted entry's workload gets a new SVID", func(t *testing.T) {
		for i := range n - max {
			if s := wls[i].fetch(t, ids[i]); s == serials[i] {
				t.Errorf("workload %d got its old SVID %s again: it was not evicted", i, s)
			}
			heldAtMost(t, max, fmt.Sprintf("workload %d's second call", i))
		}
	})
	// Workloads 2 and 3 called last: 5's SVID was evicted.
	t.Run("a watching workload keeps its SVID", func(t *testing.T) {
		keeper := n - 1
		w := wls[keeper].watch(t)
		first := w.next(t, 30*time.Second)
		if id, _, _ := strings.Cut(first, " "); id != ids[keeper] {
			t.Fatalf("the watching workload got %q, want an SVID for %s", first, ids[keeper])
		}
		for i := range n - 1 {
			wls[i].fetch(t, ids[i])
			heldAtMost(t, max+1, fmt.Sprintf("workload %d's call with one workload watching", i))
		}
		if more := w.stop(t); len(more) != 0 {
			t.Fatalf("the watching workload was sent %v after %q: its SVID changed", more, first)
		}
	})
}
