package sdsbridged

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/svidkit/svidkit/internal/sockrace"
	"github.com/svidkit/svidkit/pkg/sdsbridge/sdsconfig"
)

// TestSockraceChild is the attacker process of TestListenUnixSymlinkRace.
func TestSockraceChild(t *testing.T) { sockrace.RunChild(t) }

// TestListenUnixSymlinkRace reproduces finding 1 of issue 10 against
// svidkit-sds: its socket was bound at a predictable temporary name
// (".<name>.tmp<pid>"), then chmod-ed by that name, so a symlink renamed
// over it made root change its target's mode.
func TestListenUnixSymlinkRace(t *testing.T) {
	sockrace.Attack(t, sockrace.Target{
		ChildTest: "TestSockraceChild",
		Listen: func(path string) (io.Closer, error) {
			cfg := sdsconfig.Default()
			return listen(context.Background(), sdsconfig.Listener{Network: "unix", Address: path}, cfg, slog.Default())
		},
		Watch: func(path string) []string {
			tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp"+strconv.Itoa(os.Getpid()))
			return []string{path, tmp}
		},
	})
}
