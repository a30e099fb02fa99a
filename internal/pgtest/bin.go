package pgtest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
)

// ErrNotInstalled reports that PostgreSQL's server programs were not found.
var ErrNotInstalled = errors.New("PostgreSQL not found (initdb, postgres, pg_ctl and psql on PATH or in /usr/lib/postgresql/*/bin); install the postgresql package")

// BinDir finds PostgreSQL's server programs: on PATH, or where Debian's
// package puts them (/usr/lib/postgresql/<version>/bin, newest version
// first). It returns ErrNotInstalled when there are none.
func BinDir() (string, error) {
	var candidates []string
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, p)
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(debian, func(i, j int) bool { return pgVersion(debian[i]) > pgVersion(debian[j]) })
	candidates = append(candidates, debian...)
	for _, c := range candidates {
		// /usr/local/bin/initdb may be a symlink: postgres, pg_ctl and psql
		// sit next to the real file.
		real, err := filepath.EvalSymlinks(c)
		if err != nil {
			continue
		}
		dir := filepath.Dir(real)
		if allExecutable(dir, "initdb", "postgres", "pg_ctl", "psql") {
			return dir, nil
		}
	}
	return "", ErrNotInstalled
}

// pgVersion is the major version in a Debian path's version directory.
func pgVersion(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// allExecutable reports whether every named file in dir is executable.
func allExecutable(dir string, names ...string) bool {
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}
