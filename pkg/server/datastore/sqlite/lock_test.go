package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
)

// lockChildEnv names the database a child process of this test binary
// opens and holds until its standard input closes (see TestMain).
const lockChildEnv = "SVIDKIT_SQLITE_LOCK_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(lockChildEnv); path != "" {
		os.Exit(holdStore(path))
	}
	os.Exit(m.Run())
}

// holdStore is the child process: it opens the store, says "open" on
// stdout, and closes the store when stdin reaches EOF.
func holdStore(path string) int {
	s, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("open")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestOpenRefusedWhileAnotherProcessHoldsIt: while another process (a
// real child process) has the database open, Open fails with an error that
// names the holder and PostgreSQL; once that process is gone it opens.
func TestOpenRefusedWhileAnotherProcessHoldsIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "datastore.sqlite3")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the child: %v", err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "open\n" {
		t.Fatalf("child said %q, %v; want \"open\"", line, err)
	}

	_, err = sqlite.Open(t.Context(), path, nil)
	if err == nil {
		t.Fatal("Open succeeded while another process holds the database")
	}
	for _, want := range []string{"in use by another server", fmt.Sprintf("pid %d", cmd.Process.Pid), "PostgreSQL", path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	openPath(t, path)
}

// TestOpenRefusedTwiceInOneProcess: a second store on the same database in
// one process is refused too, until the first closes; a Shared store is
// not.
func TestOpenRefusedTwiceInOneProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "datastore.sqlite3")
	first, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(t.Context(), path, nil); err == nil || !strings.Contains(err.Error(), "in use by another server") {
		t.Fatalf("second Open: error %v, want \"in use by another server\"", err)
	}
	shared, err := sqlite.OpenConfig(t.Context(), sqlite.Config{ConnString: path, Shared: true})
	if err != nil {
		t.Fatalf("Shared open beside the server: %v", err)
	}
	if err := shared.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	openPath(t, path)
}
