// Package unix is the "unix" workload attestor: it describes a local
// process by its uid, gid, user and group names, supplementary groups, and
// optionally the path and SHA-256 of its executable, read from /proc.
//
// Selectors, all of type "unix":
//
//	uid:<n>  gid:<n>  user:<name>  group:<name>  supplementary_gid:<n>
//	path:<executable path>  sha256:<hex digest of the executable>
//
// Names that do not resolve are omitted rather than failing attestation:
// a missing selector can only make fewer entries match.
//
// Everything is read about the process the caller's connection was made
// by, running the executable it ran then: Attest fails if the process has
// exited (its pid may name another process by now) or exec'd since, also
// when that happens while it reads. The path and digest are those of the
// very file the process was identified with (see procid).
package unix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"strconv"
	"sync"
	"time"

	"github.com/svidkit/svidkit/pkg/procid"
	"github.com/svidkit/svidkit/pkg/selector"
)

// SelectorType is the type of every selector this attestor produces.
const SelectorType = "unix"

// Defaults used by New for zero Config fields.
const (
	DefaultProcRoot      = "/proc"
	DefaultHashCacheSize = 256
)

// Config configures an Attestor. The zero value is usable.
type Config struct {
	// ProcRoot is where the proc filesystem is mounted; "/proc" when empty.
	// Tests point it at a fake tree.
	ProcRoot string
	// DisableWorkloadPath turns off the path and sha256 selectors (SPIRE's
	// discover_workload_path = false). They are on by default because they
	// are what tells two programs of the same user apart.
	DisableWorkloadPath bool
	// HashSizeLimit is the largest executable, in bytes, that is hashed for
	// the sha256 selector; larger ones get no sha256 selector (and a
	// warning). Zero or negative means no limit (SPIRE's
	// workload_size_limit).
	HashSizeLimit int64
	// HashCacheSize is how many executable digests are remembered, keyed by
	// path, device, inode, size and modification time; 256 when zero.
	HashCacheSize int
	// Log receives warnings; slog.Default() when nil.
	Log *slog.Logger
}

// Attestor implements workloadapi.Attestor for Linux processes.
type Attestor struct {
	procRoot  string
	discover  bool
	sizeLimit int64
	hashes    *hashCache
	users     *nameCache // uid to user name
	groups    *nameCache // gid to group name
	// statusBufs pools the buffers of /proc/<pid>/status reads.
	statusBufs *sync.Pool
	log        *slog.Logger
}

// New returns an Attestor with the defaults filled in.
func New(cfg Config) *Attestor {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = DefaultProcRoot
	}
	if cfg.HashCacheSize <= 0 {
		cfg.HashCacheSize = DefaultHashCacheSize
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Attestor{
		procRoot:   cfg.ProcRoot,
		discover:   !cfg.DisableWorkloadPath,
		sizeLimit:  cfg.HashSizeLimit,
		hashes:     newHashCache(cfg.HashCacheSize),
		users:      newNameCache(userName, nameTTL, time.Now),
		groups:     newNameCache(groupName, nameTTL, time.Now),
		statusBufs: newStatusBufs(),
		log:        cfg.Log,
	}
}

// Attest returns the selectors of process p, whose uid and gid the caller
// took from the socket's peer credentials. It fails when the process cannot
// be inspected, for example because it exited or, with workload path
// discovery on, because its executable is not readable by this process
// (the agent normally runs as root), and with an error wrapping
// procid.ErrGone or procid.ErrExeChanged when the process is no longer the
// one p identified.
func (a *Attestor) Attest(ctx context.Context, p *procid.Process, uid, gid uint32) (selector.Set, error) {
	if p == nil {
		return nil, errors.New("unix attestor: no process to attest")
	}
	sels, err := a.selectors(ctx, p, uid, gid)
	// What was read is about the process that connected only if it is
	// still there, running the same executable; if it is not, that is also
	// the likely cause of a failed read.
	if verr := p.Verify(); verr != nil {
		return nil, fmt.Errorf("unix attestor: %w", verr)
	}
	if err != nil {
		return nil, fmt.Errorf("unix attestor: pid %d: %w", p.PID(), err)
	}
	return sels, nil
}

// selectors reads the selectors of p from /proc.
func (a *Attestor) selectors(ctx context.Context, p *procid.Process, uid, gid uint32) (selector.Set, error) {
	groups, err := a.readSupplementaryGroups(p.PID())
	if err != nil {
		return nil, err
	}
	uidStr := strconv.FormatUint(uint64(uid), 10)
	gidStr := strconv.FormatUint(uint64(gid), 10)
	sels := make([]selector.Selector, 0, 6+len(groups))
	sels = append(sels, sel("uid:"+uidStr), sel("gid:"+gidStr))
	if name, ok := a.users.lookup(uidStr); ok {
		sels = append(sels, sel("user:"+name))
	}
	if name, ok := a.groups.lookup(gidStr); ok {
		sels = append(sels, sel("group:"+name))
	}
	for _, g := range groups {
		sels = append(sels, sel("supplementary_gid:"+g))
	}
	if a.discover {
		bin, err := a.binary(ctx, p)
		if err != nil {
			return nil, err
		}
		sels = append(sels, sel("path:"+bin.path))
		if bin.sha256 != "" {
			sels = append(sels, sel("sha256:"+bin.sha256))
		}
	}
	return selector.NewSet(sels...), nil
}

func sel(value string) selector.Selector {
	return selector.Selector{Type: SelectorType, Value: value}
}

// userName and groupName resolve a uid or gid to its name; ok is false
// when it has none.
func userName(uid string) (string, bool) {
	u, err := user.LookupId(uid)
	if err != nil {
		return "", false
	}
	return u.Username, true
}

func groupName(gid string) (string, bool) {
	g, err := user.LookupGroupId(gid)
	if err != nil {
		return "", false
	}
	return g.Name, true
}
