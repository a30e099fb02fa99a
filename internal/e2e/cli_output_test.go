package e2e_test

import (
	"bufio"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// prettyFields returns the values of every "Name   : value" line named
// name in the pretty output of an svidkit-server command, in order.
func prettyFields(out, name string) []string {
	var vals []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			vals = append(vals, strings.TrimSpace(v))
		}
	}
	return vals
}

// prettyField returns the only value of name in out, failing the test
// unless there is exactly one.
func prettyField(t *testing.T, out, name string) string {
	t.Helper()
	vals := prettyFields(out, name)
	if len(vals) != 1 {
		t.Fatalf("output has %d %q lines, want 1:\n%s", len(vals), name, out)
	}
	return vals[0]
}

// decodeJSON decodes the -output json of an svidkit-server command into m.
func decodeJSON(t *testing.T, out string, m proto.Message) {
	t.Helper()
	if err := protojson.Unmarshal([]byte(out), m); err != nil {
		t.Fatalf("-output json is not a %T: %v\n%s", m, err, out)
	}
}

// cliResult is one run of a command line.
type cliResult struct {
	code        int
	out, errOut string
}

// ok fails the test unless the command exited 0.
func (r cliResult) ok(t *testing.T) cliResult {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstdout: %s\nstderr: %s", r.code, r.out, r.errOut)
	}
	return r
}

// fails fails the test unless the command exited 1 with want in its
// error output.
func (r cliResult) fails(t *testing.T, want string) {
	t.Helper()
	if r.code != 1 || !strings.Contains(r.errOut, want) {
		t.Fatalf("exit %d, want 1 with %q on stderr\nstdout: %s\nstderr: %s", r.code, want, r.out, r.errOut)
	}
}
