package loadgen

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestProberFailuresAreErrors starts probers that fail at setup and checks
// that each failure is an error naming the prober, not a hang. The real
// prober (this test binary re-executed; TestMain calls MaybeRunProber)
// refuses a setup without servers; shell scripts stand in for probers
// that break the protocol, faults the real one cannot be made to show.
func TestProberFailuresAreErrors(t *testing.T) {
	self := func(t *testing.T) *exec.Cmd {
		cmd, err := proberCommand()
		if err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	script := func(s string) func(*testing.T) *exec.Cmd {
		return func(*testing.T) *exec.Cmd { return exec.Command("sh", "-c", s) }
	}
	tests := []struct {
		name string
		cmd  func(*testing.T) *exec.Cmd
		want []string
	}{
		{"setup refused", self, []string{"loadgen: prober (pid ", "a token for each"}},
		{"unreadable reply", script(`read l; echo garbage; exec sleep 60`), []string{"loadgen: prober (pid ", "unreadable reply"}},
		{"no ready", script(`read l; echo '{"result":{}}'; exec sleep 60`), []string{"loadgen: prober (pid ", "setup answered without ready"}},
		{"exits", script(`read l; echo boom >&2; exit 3`), []string{"loadgen: prober (pid ", "exited: exit status 3", "stderr: boom"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := launchProber(t.Context(), tc.cmd(t), proberSetup{TrustDomain: "example.org"}, nil)
			if err == nil {
				p.kill()
				t.Fatal("launchProber succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestProberExitsOnStdinEnd checks that the real prober exits, with
// success, when the load generator closes its stdin (as it does at the end
// of a run, and as the kernel does when the load generator dies).
func TestProberExitsOnStdinEnd(t *testing.T) {
	cmd, err := proberCommand()
	if err != nil {
		t.Fatal(err)
	}
	p, err := spawnProber(cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.stdin.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.kill()
		t.Fatal("prober still running a minute after its stdin ended")
	}
	if !p.cmd.ProcessState.Success() {
		t.Errorf("prober exit: %v", p.exitErr)
	}
}
