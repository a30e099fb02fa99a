package sockrace

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/svidkit/svidkit/internal/prereq"
)

// Starts is how many times Attack starts the listener under attack. Before
// the fix of issue 10 finding 1 the victim's mode changed within a few
// starts.
const Starts = 1000

// Nobody is the attacker's uid and gid.
const Nobody = 65534

// Target is the listener under attack.
type Target struct {
	// ChildTest names the test of the calling package that calls RunChild.
	ChildTest string
	// Listen starts the listener at path, as the daemon does.
	Listen func(path string) (io.Closer, error)
	// Watch lists the paths the attacker watches for a socket; default
	// the socket path alone. A daemon that binds at a predictable
	// temporary name is attacked there too.
	Watch func(path string) []string
}

// Attack runs the symlink race against tgt, Starts times per scenario:
//
//   - "attacker-owned directory": the socket's directory belongs to uid
//     Nobody, whose process renames symlinks to a victim file over every
//     socket it sees. Each start must be refused with an error naming the
//     directory and the owner's uid.
//   - "root-owned directory, race run by root": the same race in a safe
//     directory, run by the test itself, proves that setting the mode never
//     follows a link; a start may fail only because its socket was replaced.
//
// In both, the victim's mode (0600) must never change.
func Attack(t *testing.T, tgt Target) {
	prereq.Root(t, "acts as a second uid")
	if tgt.Watch == nil {
		tgt.Watch = func(path string) []string { return []string{path} }
	}
	tests := []struct {
		name   string
		attack func(t *testing.T, dir, victim string, watch []string)
		okErr  func(err error, dir string) bool
		// refused: every start must fail (with okErr).
		refused bool
	}{
		{
			name: "attacker-owned directory",
			attack: func(t *testing.T, dir, victim string, watch []string) {
				if err := os.Chown(dir, Nobody, Nobody); err != nil {
					t.Fatal(err)
				}
				StartChild(t, tgt.ChildTest, Nobody, Nobody, victim, watch...)
			},
			okErr: func(err error, dir string) bool {
				return strings.Contains(err.Error(), dir) && strings.Contains(err.Error(), "uid 65534")
			},
			refused: true,
		},
		{
			name: "root-owned directory, race run by root",
			attack: func(t *testing.T, _, victim string, watch []string) {
				ctx, cancel := context.WithCancel(context.Background())
				var (
					wg    sync.WaitGroup
					swaps int
				)
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					if swaps, err = Swap(ctx, victim, watch...); err != nil {
						t.Error(err)
					}
				}()
				t.Cleanup(func() {
					cancel()
					wg.Wait()
					t.Logf("%d swaps", swaps)
					if swaps == 0 {
						t.Error("the race never swapped a socket: the test proves nothing")
					}
				})
			},
			okErr: func(err error, _ string) bool { return strings.Contains(err.Error(), "replaced") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := os.MkdirTemp("", "sr")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(base) })
			if err := os.Chmod(base, 0o755); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(base, "victim")
			if err := os.WriteFile(victim, []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(base, "public")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "api.sock")
			tt.attack(t, dir, victim, tgt.Watch(path))

			listened := 0
			for i := range Starts {
				lis, err := tgt.Listen(path)
				if err == nil {
					lis.Close()
				}
				fi, statErr := os.Stat(victim)
				if statErr != nil {
					t.Fatal(statErr)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Fatalf("start %d: the victim's mode changed to %#o through a symlink at the socket path", i, fi.Mode().Perm())
				}
				if err != nil && !tt.okErr(err, dir) && !lostRace(err) {
					t.Fatalf("start %d: unexpected error: %v", i, err)
				}
				if err == nil {
					listened++
				}
				// A symlink left at the path makes every later start fail
				// as "not a socket": clear it, as an operator would.
				if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSymlink {
					os.Remove(path)
				}
			}
			if tt.refused && listened > 0 {
				t.Errorf("%d of %d starts listened in a directory uid %d owns, want every one refused", listened, Starts, Nobody)
			}
		})
	}
}

// lostRace reports whether err is a start that failed because the attacker
// had just put something at the path: no harm done.
func lostRace(err error) bool {
	return strings.Contains(err.Error(), "not a socket") || strings.Contains(err.Error(), "address already in use")
}
