package e2e_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestServerValidateBinaryNamesKeysAndLines builds the real svidkit-server
// and runs `validate -config` on a file with three problems: it must exit
// 1 and print one "Error:" line per problem, each with the file, the line
// and the key (before, one "Error:" line named the file only, and the rest
// followed without it).
func TestServerValidateBinaryNamesKeysAndLines(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("builds cmd/server and needs the go toolchain in PATH: ", err)
	}
	bin := filepath.Join(t.TempDir(), "svidkit-server")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/server")
	build.Dir = moduleRoot(t, goTool)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/server: %v\n%s", err, out)
	}
	conf := filepath.Join(t.TempDir(), "server.conf")
	if err := os.WriteFile(conf, []byte(`server {
  trust_domain = "example.org"
  data_dir = "/d"
  bind_port = 70000
  ca_ttl = "30m"
  default_jwt_svid_ttl = "1h"
}
plugins {
  DataStore "sql" { plugin_data { database_type = "sqlite3" connection_string = "/d/ds.db" } }
  KeyManager "memory" {}
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "validate", "-config", conf)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit: %v, want exit code 1; stdout %q", err, stdout.String())
	}
	want := "Error: " + conf + ":4: bind_port: port 70000 out of range 0-65535\n" +
		"Error: " + conf + ":5: default_x509_svid_ttl (1h0m0s) must be shorter than ca_ttl (30m0s)\n" +
		"Error: " + conf + ":6: default_jwt_svid_ttl (1h0m0s) must be shorter than ca_ttl (30m0s)\n"
	if got := stderr.String(); got != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
	}
}
