package serverd_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/pgtest"
	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/cliargs"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/servercli"
	"github.com/svidkit/svidkit/pkg/serverd"
)

// pg is this package's PostgreSQL server, started by TestMain.
var pg pgtest.Server

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// serverConf writes a server configuration file with the given DataStore
// plugin_data and returns its path.
func serverConf(t *testing.T, pluginData string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "server.conf")
	conf := fmt.Sprintf(`server {
  trust_domain = "example.org"
  data_dir = %q
}
plugins {
  DataStore "sql" {
    plugin_data {
%s
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
}
`, dir, pluginData)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMigrateCommand: `svidkit-server migrate -config …` migrates the
// configured datastore, SQLite or PostgreSQL, and exits; a server with
// disable_migration then opens it, where it refused the empty database
// before.
func TestMigrateCommand(t *testing.T) {
	tests := []struct {
		name string
		data func(t *testing.T) string
	}{
		{"sqlite3", func(t *testing.T) string {
			return fmt.Sprintf("database_type = \"sqlite3\"\nconnection_string = %q\ndisable_migration = true", filepath.Join(t.TempDir(), "ds.sqlite3"))
		}},
		{"postgres", func(t *testing.T) string {
			return fmt.Sprintf("database_type = \"postgres\"\nconnection_string = %q\ndisable_migration = true", pg.NewDatabase(t))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := serverConf(t, tt.data(t))
			cfg, _, err := config.LoadServer(path)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			log := testenv.Logger()
			if _, err := serverd.OpenStore(ctx, cfg.DataStore, log); err == nil || !strings.Contains(err.Error(), "svidkit-server migrate -config") {
				t.Fatalf("OpenStore with disable_migration before migrate: error %v, want one telling to run svidkit-server migrate", err)
			}
			root := servercli.New(servercli.Options{Migrate: func(ctx context.Context, cfg *config.Server) error {
				return serverd.Migrate(ctx, cfg, log)
			}})
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(cliargs.Normalize([]string{"migrate", "-config", path}))
			if err := root.ExecuteContext(ctx); err != nil {
				t.Fatalf("migrate: %v\n%s", err, out.String())
			}
			s, err := serverd.OpenStore(ctx, cfg.DataStore, log)
			if err != nil {
				t.Fatalf("OpenStore with disable_migration after migrate: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDisableMigrationRefusesStart: a server with disable_migration on a
// database older than its schema exits at start, telling the operator to
// run the migrate command, and names both versions.
func TestDisableMigrationRefusesStart(t *testing.T) {
	cfg := testenv.NewLayout(t, spiffeid.RequireTrustDomainFromString("example.org")).ServerConfig(0)
	cfg.DataStore = config.DataStore{DatabaseType: config.DatabasePostgres, ConnectionString: pg.NewDatabase(t), DisableMigration: true}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := serverd.Run(ctx, cfg, serverd.Options{Log: slog.New(slog.DiscardHandler)})
	for _, want := range []string{"open datastore", "database schema version 0 is older than this build needs", "svidkit-server migrate -config"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run: error %v, want it to contain %q", err, want)
		}
	}
}
