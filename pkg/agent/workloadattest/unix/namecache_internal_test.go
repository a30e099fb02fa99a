package unix

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNameCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	calls := 0
	names := map[string]string{"1000": "alice"}
	c := newNameCache(func(id string) (string, bool) {
		calls++
		n, ok := names[id]
		return n, ok
	}, time.Minute, func() time.Time { return now })

	check := func(t *testing.T, id, wantName string, wantOK bool, wantCalls int) {
		t.Helper()
		name, ok := c.lookup(id)
		if name != wantName || ok != wantOK || calls != wantCalls {
			t.Fatalf("lookup(%s) = %q, %v after %d resolutions; want %q, %v after %d", id, name, ok, calls, wantName, wantOK, wantCalls)
		}
	}
	t.Run("first lookup resolves", func(t *testing.T) { check(t, "1000", "alice", true, 1) })
	t.Run("second lookup is cached", func(t *testing.T) { check(t, "1000", "alice", true, 1) })
	t.Run("unknown id is cached as nameless", func(t *testing.T) {
		check(t, "2000", "", false, 2)
		check(t, "2000", "", false, 2)
	})
	t.Run("expired entry resolves again", func(t *testing.T) {
		names["1000"] = "bob"
		now = now.Add(time.Minute)
		check(t, "1000", "bob", true, 3)
	})
}

func TestReadSupplementaryGroupsLargeStatus(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "42")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Longer than the pooled buffer, with Groups near the end.
	status := "Name:\ttest\n" + strings.Repeat("Padding:\txxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", 200) + "Groups:\t4 24 27 \nNSpid:\t42\n"
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	a := New(Config{ProcRoot: root})
	for i := range 3 { // the second and third reuse the grown buffer
		groups, err := a.readSupplementaryGroups(42)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(groups, []string{"4", "24", "27"}) {
			t.Fatalf("read %d: groups = %v, want [4 24 27]", i, groups)
		}
	}
}
