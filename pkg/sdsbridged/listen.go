package sdsbridged

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/svidkit/svidkit/pkg/sdsbridge/sdsconfig"
	"github.com/svidkit/svidkit/pkg/unixsock"
)

// socketDirMode is the mode of the socket directories the bridge creates.
const socketDirMode = 0o755

// listen opens one SDS listener: a Unix socket made by package unixsock
// (mode cfg.ListenSocketMode, a live socket of another bridge refused), or
// a TCP listener, which Validate allows only with AllowInsecureTCP and
// which is logged as a warning.
func listen(ctx context.Context, l sdsconfig.Listener, cfg sdsconfig.Config, log *slog.Logger) (net.Listener, error) {
	if l.Network == "unix" {
		ln, err := unixsock.Listen(ctx, l.Address, unixsock.Config{
			Mode:        cfg.ListenSocketMode,
			DirMode:     socketDirMode,
			SharedDir:   cfg.SocketDirShared,
			SharedHint:  "socket_dir_shared = true (-socket-dir-shared)",
			RefuseInUse: true,
			Log:         log,
		})
		if err != nil {
			return nil, fmt.Errorf("listen_address %q: %w", l.Address, err)
		}
		return ln, nil
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", l.Address)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", l.Address, err)
	}
	log.Warn("serving SDS on TCP (allow_insecure_tcp = true): every local user can connect and fetch the private keys",
		"listen", ln.Addr().String())
	return ln, nil
}
