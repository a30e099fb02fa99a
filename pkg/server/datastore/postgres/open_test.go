package postgres_test

import (
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore/postgres"
)

// TestOpenBadConnString: a connection string pgx cannot use is refused
// with an error naming connection_string and the cause, never the
// password.
func TestOpenBadConnString(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, cs, want string }{
		{"bad URL", "postgresql://svidkit:s3cret@db:notaport/x", "connection_string: cannot use it"},
		{"missing root file", "host=db user=svidkit password=s3cret sslmode=verify-full sslrootcert=/nonexistent/ca.pem", "/nonexistent/ca.pem"},
		{"unknown sslmode", "host=db password=s3cret sslmode=sometimes", "connection_string: cannot use it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := postgres.Open(t.Context(), postgres.Config{ConnString: tt.cs})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open(%q): error %v, want it to contain %q", tt.cs, err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}
}
