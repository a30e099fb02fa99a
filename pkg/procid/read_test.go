//go:build linux

package procid_test

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/svidkit/svidkit/internal/prereq"
	"github.com/svidkit/svidkit/pkg/procid"
)

func TestReaders(t *testing.T) {
	prereq.Root(t, "starts processes as another uid or in another pid namespace")
	selfNS, err := procid.SelfPIDNamespace("/proc")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		attr     *syscall.SysProcAttr
		uids     string // real, effective and saved uid the child switches to
		wantUIDs procid.UIDs
		sameNS   bool
	}{
		{name: "as the test", attr: &syscall.SysProcAttr{}, sameNS: true},
		// The filesystem uid follows the effective one.
		{name: "with three uids", attr: &syscall.SysProcAttr{}, uids: "65534 65533 65532",
			wantUIDs: procid.UIDs{Real: 65534, Effective: 65533, Saved: 65532, FS: 65533}, sameNS: true},
		{name: "in a pid namespace of its own", attr: &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env []string
			if tt.uids != "" {
				env = append(env, uidsEnv+"="+tt.uids)
			}
			c := startChildWith(t, "wait", tt.attr, env...)
			c.waitFD3(t)
			p, err := procid.OpenPID("/proc", c.pid())
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if got, err := p.Parent(); err != nil || got != int32(os.Getpid()) {
				t.Errorf("Parent = %d, %v; want %d", got, err, os.Getpid())
			}
			if got, err := p.UIDs(); err != nil || got != tt.wantUIDs {
				t.Errorf("UIDs = %+v, %v; want %+v", got, err, tt.wantUIDs)
			}
			if ns, err := p.PIDNamespace(); err != nil || (ns == selfNS) != tt.sameNS {
				t.Errorf("PIDNamespace = %+v, %v; own %+v; want same = %v", ns, err, selfNS, tt.sameNS)
			}
			c.exit(t)
			if _, err := p.Parent(); !errors.Is(err, procid.ErrGone) {
				t.Errorf("Parent after exit = %v, want ErrGone", err)
			}
			if _, err := p.UIDs(); !errors.Is(err, procid.ErrGone) {
				t.Errorf("UIDs after exit = %v, want ErrGone", err)
			}
			if _, err := p.PIDNamespace(); !errors.Is(err, procid.ErrGone) {
				t.Errorf("PIDNamespace after exit = %v, want ErrGone", err)
			}
		})
	}
}
