package sqlite

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestParseConnString(t *testing.T) {
	tests := []struct {
		name      string
		cs        string
		wantPath  string
		wantQuery string
	}{
		{"plain absolute", "/run/spire/data/datastore.sqlite3", "/run/spire/data/datastore.sqlite3", ""},
		{"plain relative", "data/datastore.sqlite3", "data/datastore.sqlite3", ""},
		{"plain with params", "/d/db.sqlite3?cache=private", "/d/db.sqlite3", "cache=private"},
		{"plain keeps percent", "/d/50%.db", "/d/50%.db", ""},
		{"uri", "file:/d/db.sqlite3", "/d/db.sqlite3", ""},
		{"uri relative", "file:data/db.sqlite3", "data/db.sqlite3", ""},
		{"uri empty authority", "file:///d/db.sqlite3?mode=rwc", "/d/db.sqlite3", "mode=rwc"},
		{"uri localhost", "file://localhost/d/db.sqlite3", "/d/db.sqlite3", ""},
		{"uri escapes", "file:/d/a%20b%3F.db#frag", "/d/a b?.db", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConnString(tt.cs)
			if err != nil {
				t.Fatalf("parseConnString(%q): %v", tt.cs, err)
			}
			if got.path != tt.wantPath || got.query.Encode() != tt.wantQuery {
				t.Errorf("parseConnString(%q) = %q, %q; want %q, %q", tt.cs, got.path, got.query.Encode(), tt.wantPath, tt.wantQuery)
			}
		})
	}
}

func TestDSN(t *testing.T) {
	tg, err := parseConnString("/d/a b?_txlock=deferred&cache=private")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		write       bool
		wantPragmas []string
		wantTxlock  string
	}{
		{"write", true, []string{"busy_timeout(10000)", "foreign_keys(1)", "journal_mode(WAL)", "synchronous(NORMAL)"}, "immediate"},
		{"read", false, []string{"busy_timeout(10000)", "foreign_keys(1)", "query_only(1)", "synchronous(NORMAL)"}, "deferred"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := tg.dsn(tt.write)
			path, rawQuery, _ := strings.Cut(dsn, "?")
			if path != "file:/d/a%20b" {
				t.Errorf("dsn path = %q, want file:/d/a%%20b", path)
			}
			q, err := url.ParseQuery(rawQuery)
			if err != nil {
				t.Fatal(err)
			}
			pragmas := slices.Sorted(slices.Values(q["_pragma"]))
			if !slices.Equal(pragmas, tt.wantPragmas) {
				t.Errorf("pragmas = %v, want %v", pragmas, tt.wantPragmas)
			}
			// The driver reads the first _txlock; the operator's comes after.
			if got := q.Get("_txlock"); got != tt.wantTxlock {
				t.Errorf("_txlock = %q, want %q", got, tt.wantTxlock)
			}
			if q.Get("cache") != "private" {
				t.Errorf("operator parameter cache=private lost: %q", rawQuery)
			}
		})
	}
}
