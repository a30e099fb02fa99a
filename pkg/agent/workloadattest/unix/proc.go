package unix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/svidkit/svidkit/pkg/procid"
)

// newStatusBufs returns the pool of buffers /proc/<pid>/status is read
// into. A status file is about 1.5 KB; reading it with os.ReadFile and a
// bufio.Scanner allocated some 12 KB on every Workload API call.
func newStatusBufs() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
}

// readSupplementaryGroups returns the gids of the "Groups:" line of
// <procRoot>/<pid>/status.
func (a *Attestor) readSupplementaryGroups(pid int32) ([]string, error) {
	path := filepath.Join(a.procRoot, strconv.Itoa(int(pid)), "status")
	bp := a.statusBufs.Get().(*[]byte)
	defer a.statusBufs.Put(bp)
	data, err := readInto((*bp)[:0], path)
	*bp = data[:0]
	if err != nil {
		return nil, fmt.Errorf("read process status: %w", err)
	}
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte{'\n'})
		rest, ok := bytes.CutPrefix(line, []byte("Groups:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		groups := make([]string, 0, len(fields))
		for _, f := range fields {
			if _, err := strconv.ParseUint(string(f), 10, 32); err != nil {
				return nil, fmt.Errorf("parse %s: bad Groups entry %q", path, f)
			}
			groups = append(groups, string(f))
		}
		return groups, nil
	}
	return nil, fmt.Errorf("parse %s: no Groups line", path)
}

// readInto appends the content of the file at path to buf, growing it as
// needed, and returns it.
func readInto(buf []byte, path string) ([]byte, error) {
	f, err := openFile(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// binary is the executable a process runs.
type binary struct {
	path string
	// sha256 is the hex digest, empty when the file exceeds the size limit.
	sha256 string
}

// selfFD is where this process's open files are named; reading the link of
// one gives the path of the file it is open on.
const selfFD = "/proc/self/fd/"

// binary opens the executable of p through <root>/<pid>/exe and checks it
// is the file p was identified with, then takes the path and the digest
// from that open file, so both describe it even if the process exec'd or
// the path was replaced meanwhile. The digest is reused while the file's
// identity is unchanged.
func (a *Attestor) binary(ctx context.Context, p *procid.Process) (binary, error) {
	exe := filepath.Join(a.procRoot, strconv.Itoa(int(p.PID())), "exe")
	f, err := openFile(exe)
	if err != nil {
		return binary{}, fmt.Errorf("open executable: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return binary{}, fmt.Errorf("stat executable: %w", err)
	}
	if err := p.MatchExe(procid.FileIDOf(fi)); err != nil {
		return binary{}, err
	}
	// The link of the open file reads as <root>/<pid>/exe does, from this
	// process's root.
	path, err := os.Readlink(selfFD + strconv.FormatUint(uint64(f.Fd()), 10))
	if err != nil {
		return binary{}, fmt.Errorf("resolve executable: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return binary{}, fmt.Errorf("executable %q is not a regular file", path)
	}
	key := keyOf(path, fi)
	if a.sizeLimit > 0 && fi.Size() > a.sizeLimit {
		a.log.Warn("executable exceeds the hash size limit; no sha256 selector",
			"pid", p.PID(), "path", path, "size", fi.Size(), "limit", a.sizeLimit)
		return binary{path: path}, nil
	}
	sum, err := a.hashes.get(ctx, key, func() (string, error) { return hashFile(f, path) })
	if err != nil {
		return binary{}, err
	}
	return binary{path: path, sha256: sum}, nil
}

// hashFile hashes the open executable f from its start.
func hashFile(f *os.File, path string) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return "", fmt.Errorf("hash executable %q: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
