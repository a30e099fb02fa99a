package sqlite

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// busyTimeout is how long a connection waits for another process's write
// lock before failing with SQLITE_BUSY.
const busyTimeout = 10_000 // milliseconds

// target is a parsed connection string: the database file and any extra
// driver parameters the operator supplied.
type target struct {
	path  string
	query url.Values
}

// parseConnString accepts SPIRE's two forms of connection_string: a plain
// file path ("/run/spire/data/datastore.sqlite3", optionally followed by
// "?params") and a "file:" URI ("file:/path/db.sqlite3?cache=private",
// "file:///path/db.sqlite3"). In-memory databases are refused: the store
// keeps separate read and write connection pools, which would each see a
// different empty database.
func parseConnString(cs string) (target, error) {
	if strings.TrimSpace(cs) == "" {
		return target{}, errors.New("connection string is empty")
	}
	rest, isURI := strings.CutPrefix(cs, "file:")
	if isURI {
		rest, _, _ = strings.Cut(rest, "#") // a URI fragment means nothing here
	}
	// As in mattn/go-sqlite3, which SPIRE uses, "?" starts parameters in
	// both forms; a plain path cannot contain one.
	p, rawQuery, _ := strings.Cut(rest, "?")
	if isURI {
		if after, ok := strings.CutPrefix(p, "//"); ok {
			host, path, _ := strings.Cut(after, "/")
			if host != "" && host != "localhost" {
				return target{}, fmt.Errorf("file URI authority %q: only empty or localhost is allowed", host)
			}
			p = "/" + path
		}
		unescaped, err := url.PathUnescape(p)
		if err != nil {
			return target{}, fmt.Errorf("file URI path: %w", err)
		}
		p = unescaped
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return target{}, fmt.Errorf("parameters: %w", err)
	}
	switch {
	case p == "" || p == ":memory:" || q.Get("mode") == "memory":
		return target{}, errors.New("in-memory databases are not supported; give a file path")
	case strings.HasSuffix(p, "/"):
		return target{}, fmt.Errorf("path %q names a directory, want a database file", p)
	}
	return target{path: p, query: q}, nil
}

// dsn renders the driver data source name. The write pool uses
// BEGIN IMMEDIATE so a transaction takes the write lock at its start (and
// waits up to busyTimeout for it) instead of failing on its first write; the
// read pool is query-only.
func (t target) dsn(write bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.Itoa(busyTimeout)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	if write {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	// Operator parameters are passed through after ours. The driver reads
	// the first value of a shorthand key, so _txlock stays ours; _pragma
	// values are all executed.
	for k, vs := range t.query {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	return "file:" + (&url.URL{Path: t.path}).EscapedPath() + "?" + q.Encode()
}
