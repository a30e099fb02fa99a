package serverd_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/federation"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/svidkit/svidkit/internal/freeport"
	"github.com/svidkit/svidkit/pkg/config"
	"github.com/svidkit/svidkit/pkg/server"
	"github.com/svidkit/svidkit/pkg/server/datastore"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
	"github.com/svidkit/svidkit/pkg/serverd"
)

// federationConf is a server configuration with the federation block as
// SPIRE's doc/spire_server.md writes it (https_spiffe on both sides).
const federationConf = `server {
    bind_address = "127.0.0.1"
    bind_port = "0"
    socket_path = %q
    trust_domain = %q
    data_dir = %q
    federation {
        bundle_endpoint {
            address = "127.0.0.1"
            port = %d
            refresh_hint = "1m"
            profile "https_spiffe" {}
        }
        %s
    }
}

plugins {
    DataStore "sql" {
        plugin_data {
            database_type = "sqlite3"
            connection_string = %q
        }
    }
    NodeAttestor "join_token" {
        plugin_data {}
    }
    KeyManager "memory" {
        plugin_data {}
    }
}
`

type fedServer struct {
	td       spiffeid.TrustDomain
	port     int
	dbPath   string
	confPath string
}

func newFedServer(t *testing.T, td string, federatesWith string) *fedServer {
	t.Helper()
	dir := t.TempDir()
	sockDir, err := os.MkdirTemp("", "svk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	s := &fedServer{td: spiffeid.RequireTrustDomainFromString(td), port: freeport.ForTest(t),
		dbPath: filepath.Join(dir, "datastore.sqlite3"), confPath: filepath.Join(dir, "server.conf")}
	conf := fmt.Sprintf(federationConf, filepath.Join(sockDir, "api.sock"), td, dir, s.port, federatesWith, s.dbPath)
	if err := os.WriteFile(s.confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// run validates and runs the server's configuration until the test ends.
func (s *fedServer) run(t *testing.T) {
	t.Helper()
	cfg, warnings, err := config.LoadServer(s.confPath)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- serverd.Run(ctx, cfg, serverd.Options{Log: slog.New(slog.DiscardHandler), Started: func(*server.Server) { close(started) }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serverd.Run: %v", err)
		}
	})
	select {
	case <-started:
	case err := <-done:
		done <- err
		t.Fatalf("server exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not listening")
	}
}

// openStore opens a server's database beside the server (Shared: without
// the one-server lock), as another writer.
func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.OpenConfig(context.Background(), sqlite.Config{ConnString: path, Shared: true, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestFederationSPIREConfig runs two servers from SPIRE-style federation
// configurations: B serves its bundle endpoint; A, bootstrapped with B's
// bundle as `bundle set` stores it, fetches B's bundle from it.
func TestFederationSPIREConfig(t *testing.T) {
	b := newFedServer(t, "b.test", "")
	b.run(t)
	// The endpoint starts once the API listens; go-spiffe's client, as a
	// foreign server, reads B's bundle over https_spiffe.
	bStore := openStore(t, b.dbPath)
	rec, err := bStore.GetBundle(context.Background(), "b.test")
	if err != nil {
		t.Fatal(err)
	}
	bBundle, err := spiffebundle.Parse(b.td, rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	bURL := fmt.Sprintf("https://127.0.0.1:%d", b.port)
	var fetched *spiffebundle.Bundle
	deadline := time.Now().Add(30 * time.Second)
	for fetched == nil {
		fetched, err = federation.FetchBundle(context.Background(), b.td, bURL,
			federation.WithSPIFFEAuth(bBundle, spiffeid.RequireFromPath(b.td, "/spire/server")))
		if err != nil && time.Now().After(deadline) {
			t.Fatalf("FetchBundle from B: %v", err)
		}
		if err != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if hint, _ := fetched.RefreshHint(); hint != time.Minute {
		t.Errorf("served refresh hint %s, want 1m", hint)
	}

	a := newFedServer(t, "a.test", fmt.Sprintf(`federates_with "b.test" {
            bundle_endpoint_url = %q
            bundle_endpoint_profile "https_spiffe" {
                endpoint_spiffe_id = "spiffe://b.test/spire/server"
            }
        }`, bURL))
	aStore := openStore(t, a.dbPath)
	if err := aStore.SetBundle(context.Background(), &datastore.Bundle{TrustDomain: "b.test", Data: rec.Data}); err != nil {
		t.Fatal(err)
	}
	a.run(t)
	deadline = time.Now().Add(30 * time.Second)
	for {
		got, err := aStore.GetBundle(context.Background(), "b.test")
		if err != nil && !errors.Is(err, datastore.ErrNotFound) {
			t.Fatal(err)
		}
		if err == nil {
			if stored, err := spiffebundle.Parse(b.td, got.Data); err == nil && stored.Equal(fetched) {
				return // A stored B's bundle as its endpoint serves it
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("A did not store B's bundle from B's endpoint")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
