package serverd

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/postgres"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// OpenStore opens the datastore the configuration names, honouring
// disable_migration, as the server does at start (tests use it to share a
// running server's database).
func OpenStore(ctx context.Context, ds config.DataStore, log *slog.Logger) (datastore.Store, error) {
	return openStore(ctx, ds, false, log)
}

// openStore opens the datastore the configuration names. With migrate
// the schema is brought up to date whatever disable_migration says (the
// migrate command); otherwise disable_migration is honoured.
func openStore(ctx context.Context, ds config.DataStore, migrate bool, log *slog.Logger) (datastore.Store, error) {
	disable := ds.DisableMigration && !migrate
	switch ds.DatabaseType {
	case config.DatabaseSQLite:
		return sqlite.OpenConfig(ctx, sqlite.Config{ConnString: ds.ConnectionString, DisableMigration: disable, Log: log})
	case config.DatabasePostgres:
		if ds.ROConnectionString != "" {
			log.Warn("DataStore \"sql\": ro_connection_string is accepted and not used: servers read the primary, so that changes reach agents without replica lag")
		}
		if ds.MaxIdleConns != 0 {
			log.Warn("DataStore \"sql\": max_idle_conns is accepted and not used: the pool keeps up to max_open_conns connections and closes those idle for 30 minutes")
		}
		return postgres.Open(ctx, postgres.Config{
			ConnString:       ds.ConnectionString,
			MaxOpenConns:     ds.MaxOpenConns,
			ConnMaxLifetime:  ds.ConnMaxLifetime,
			DisableMigration: disable,
			Log:              log,
		})
	}
	return nil, fmt.Errorf("datastore: unknown database_type %q", ds.DatabaseType)
}

// Migrate brings the configured datastore's schema up to date and
// returns: the `svidkit-server migrate` command, which an operator runs
// when servers have disable_migration set.
func Migrate(ctx context.Context, cfg *config.Server, log *slog.Logger) error {
	store, err := openStore(ctx, cfg.DataStore, true, log.With("subsystem", "datastore"))
	if err != nil {
		return fmt.Errorf("migrate datastore: %w", err)
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("migrate datastore: %w", err)
	}
	log.Info("datastore schema is up to date", "database_type", cfg.DataStore.DatabaseType)
	return nil
}
