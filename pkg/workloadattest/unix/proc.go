package unix

import (
	"bufio"
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
)

// readSupplementaryGroups returns the gids of the "Groups:" line of
// <root>/<pid>/status.
func readSupplementaryGroups(root string, pid int32) ([]string, error) {
	path := filepath.Join(root, strconv.Itoa(int(pid)), "status")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read process status: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("Groups:"))
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

// binary is the executable a process runs.
type binary struct {
	path string
	// sha256 is the hex digest, empty when the file exceeds the size limit.
	sha256 string
}

// binary resolves the executable of pid through <root>/<pid>/exe and hashes
// it, reusing the digest while the file's identity is unchanged. It reads
// through the exe link rather than the path so the digest is of the file the
// process actually runs, even if the path was replaced since.
func (a *Attestor) binary(ctx context.Context, pid int32) (binary, error) {
	exe := filepath.Join(a.procRoot, strconv.Itoa(int(pid)), "exe")
	path, err := os.Readlink(exe)
	if err != nil {
		return binary{}, fmt.Errorf("resolve executable: %w", err)
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return binary{}, fmt.Errorf("stat executable: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return binary{}, fmt.Errorf("executable %q is not a regular file", path)
	}
	key := keyOf(path, fi)
	if a.sizeLimit > 0 && fi.Size() > a.sizeLimit {
		a.log.Warn("executable exceeds the hash size limit; no sha256 selector",
			"pid", pid, "path", path, "size", fi.Size(), "limit", a.sizeLimit)
		return binary{path: path}, nil
	}
	sum, err := a.hashes.get(ctx, key, func() (string, error) { return hashFile(exe, key) })
	if err != nil {
		return binary{}, err
	}
	return binary{path: path, sha256: sum}, nil
}

// errChanged reports that the executable was replaced while being attested.
var errChanged = errors.New("executable changed during attestation")

// hashFile hashes the file at exe, verifying it is still the file
// described by want.
func hashFile(exe string, want fileKey) (string, error) {
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("open executable: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("stat executable: %w", err)
	}
	if keyOf(want.path, fi) != want {
		return "", errChanged
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash executable %q: %w", want.path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
