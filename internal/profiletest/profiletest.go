// Package profiletest checks, for tests of the server's and the agent's
// profiling, what an operator relies on: the pprof endpoint answers on
// 127.0.0.1 with real profiles and on no other address, and profile files
// appear with mode 0600 in a 0700 directory.
package profiletest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// waitTimeout bounds every wait for the daemon under test.
const waitTimeout = 30 * time.Second

// pollInterval is how often a wait looks again.
const pollInterval = 20 * time.Millisecond

// Fetch GETs /debug/pprof/<name> from 127.0.0.1:port, waiting until the
// endpoint answers 200, and returns the parsed profile.
func Fetch(t testing.TB, port int, name string) *profile.Profile {
	t.Helper()
	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/debug/pprof/" + name
	var last string
	wait(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			last = err.Error()
			return false
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			last = fmt.Sprintf("%s %q %v", resp.Status, body, err)
			return false
		}
		last = string(body)
		return true
	}, func() string { return fmt.Sprintf("GET %s: %s", url, last) })
	p, err := profile.Parse(strings.NewReader(last))
	if err != nil {
		t.Fatalf("GET %s: not a profile: %v", url, err)
	}
	return p
}

// LoopbackOnly fails t if port accepts connections anywhere but on
// 127.0.0.1: on 127.0.0.2, which a wildcard (all interfaces) listener would
// accept on as well, or on any non-loopback address of the machine.
func LoopbackOnly(t testing.TB, port int) {
	t.Helper()
	addrs := []string{"127.0.0.2"}
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatalf("interface addresses: %v", err)
	}
	for _, a := range ifAddrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			addrs = append(addrs, n.IP.String())
		}
	}
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(a, strconv.Itoa(port)), 2*time.Second)
		if err == nil {
			c.Close()
			t.Errorf("the profiling endpoint accepts connections on %s:%d; want 127.0.0.1 only", a, port)
		}
	}
}

// Files waits until dir holds a profile file of tag for every name (SPIRE's
// <stamp>_<tag>_<name>.pb.gz), checks that dir is 0700 and each file 0600
// and a Go profile (a trace: not empty), and returns the paths by name.
func Files(t testing.TB, dir, tag string, names ...string) map[string]string {
	t.Helper()
	found := map[string]string{}
	wait(t, func() bool {
		for _, n := range names {
			if _, ok := found[n]; ok {
				continue
			}
			m, _ := filepath.Glob(filepath.Join(dir, "*_"+tag+"_"+n+".pb.gz"))
			if len(m) == 0 {
				return false
			}
			found[n] = m[0]
		}
		return true
	}, func() string { return fmt.Sprintf("profiles %q of %s in %s: found only %v", names, tag, dir, found) })
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("profile directory %s: %v, err %v; want mode 0700", dir, mode(fi), err)
	}
	for n, path := range found {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if n == "trace" {
			if len(data) == 0 {
				t.Errorf("%s: empty trace", path)
			}
			continue
		}
		if _, err := profile.Parse(bytes.NewReader(data)); err != nil {
			t.Errorf("%s: not a profile: %v", path, err)
		}
	}
	return found
}

func mode(fi os.FileInfo) any {
	if fi == nil {
		return "missing"
	}
	return fi.Mode().Perm()
}

// wait polls cond until it holds, failing t with what() after waitTimeout.
func wait(t testing.TB, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		<-tick.C
	}
}
