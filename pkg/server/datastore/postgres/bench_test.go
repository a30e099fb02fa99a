package postgres_test

import (
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/postgres"
	"github.com/svidkit/svidkit/pkg/server/datastore/storetest"
)

// BenchmarkStore runs the hot paths every store is measured on
// (storetest.Benchmark), against the package's local PostgreSQL (durability
// settings off, see internal/pgtest), to compare with SQLite's figures.
func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) datastore.Store {
		return openConfig(b, postgres.Config{ConnString: pg.NewDatabase(b)})
	})
}
