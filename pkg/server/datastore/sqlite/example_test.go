package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/svidkit/svidkit/pkg/selector"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "svidkit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The same forms SPIRE's connection_string accepts: a path or a file: URI.
	s, err := sqlite.Open(ctx, filepath.Join(dir, "data", "datastore.sqlite3"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	_, err = s.CreateEntry(ctx, &datastore.Entry{
		SPIFFEID:  "spiffe://example.org/web",
		ParentID:  "spiffe://example.org/spire/agent/join_token/abc",
		Selectors: selector.NewSet(selector.Selector{Type: "unix", Value: "uid:1000"}),
	})
	if err != nil {
		log.Fatal(err)
	}
	es, err := s.ListEntries(ctx, datastore.EntryFilter{
		Selectors:     selector.NewSet(selector.Selector{Type: "unix", Value: "uid:1000"}, selector.Selector{Type: "unix", Value: "gid:1000"}),
		SelectorMatch: datastore.MatchSubset,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range es {
		fmt.Println(e.SPIFFEID, e.Selectors.Strings())
	}
	// Output: spiffe://example.org/web [unix:uid:1000]
}
