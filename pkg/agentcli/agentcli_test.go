package agentcli_test

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/svidkit/svidkit/pkg/agentcli"
)

func TestFetchX509(t *testing.T) {
	id := newIdentity(t)
	sock := startFake(t, &fakeWorkloadAPI{id: id, hint: "internal"})
	code, out, errOut := run(t, context.Background(), agentcli.Options{}, "api", "fetch", "x509", "-socketPath", sock)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"Received 1 svid after ",
		"SPIFFE ID:\t\tspiffe://example.org/workload\n",
		"Hint:\t\t\tinternal\n",
		"SVID Serial:\t\t4242\n",
		"SVID Valid After:\t" + id.leaf.NotBefore.UTC().String() + "\n",
		"SVID Valid Until:\t" + id.leaf.NotAfter.UTC().String() + "\n",
		"CA #1 Valid Until:\t",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestFetchX509Write(t *testing.T) {
	id := newIdentity(t)
	sock := startFake(t, &fakeWorkloadAPI{id: id})
	dir := t.TempDir()
	// A stale key file with loose permissions must not keep them.
	if err := os.WriteFile(filepath.Join(dir, "svid.0.key"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, context.Background(), agentcli.Options{}, "api", "fetch", "x509", "-socketPath", sock, "-write", dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "Writing key to file "+filepath.Join(dir, "svid.0.key")) {
		t.Errorf("stdout lacks the key file line:\n%s", out)
	}
	modes := map[string]os.FileMode{"svid.0.key": 0o600, "svid.0.pem": 0o644, "bundle.0.pem": 0o644}
	for name, want := range modes {
		t.Run(name, func(t *testing.T) {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != want {
				t.Errorf("mode %v, want %v", st.Mode().Perm(), want)
			}
		})
	}
	svid, err := x509svid.Load(filepath.Join(dir, "svid.0.pem"), filepath.Join(dir, "svid.0.key"))
	if err != nil {
		t.Fatalf("written SVID does not load: %v", err)
	}
	if svid.ID.String() != workloadID {
		t.Errorf("written SVID ID %s, want %s", svid.ID, workloadID)
	}
	bundlePEM, err := os.ReadFile(filepath.Join(dir, "bundle.0.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(bundlePEM); block == nil || string(block.Bytes) != string(id.caDER) {
		t.Errorf("bundle.0.pem does not hold the CA certificate")
	}
}

func TestFetchJWT(t *testing.T) {
	id := newIdentity(t)
	fake := &fakeWorkloadAPI{id: id}
	sock := startFake(t, fake)
	code, out, errOut := run(t, context.Background(), agentcli.Options{}, "api", "fetch", "jwt", "-socketPath", sock,
		"-audience", "db,cache", "-audience", "queue", "-spiffeID", "spiffe://example.org/other")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	req := fake.lastJWTRequest()
	if req == nil || !slices.Equal(req.Audience, []string{"db", "cache", "queue"}) || req.SpiffeId != "spiffe://example.org/other" {
		t.Fatalf("JWT request %v, want audiences [db cache queue] and the given SPIFFE ID", req)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 4 || lines[0] != "token(spiffe://example.org/other):" || lines[2] != "bundle(spiffe://example.org):" {
		t.Fatalf("unexpected output:\n%s", out)
	}
	bundle, err := jwtbundle.Parse(spiffeid.RequireTrustDomainFromString("example.org"), []byte(strings.TrimSpace(lines[3])))
	if err != nil {
		t.Fatalf("printed bundle does not parse: %v", err)
	}
	svid, err := jwtsvid.ParseAndValidate(strings.TrimSpace(lines[1]), bundle, []string{"db"})
	if err != nil {
		t.Fatalf("printed token does not validate against the printed bundle: %v", err)
	}
	if svid.ID.String() != "spiffe://example.org/other" {
		t.Errorf("token subject %s", svid.ID)
	}
}

func TestFetchErrors(t *testing.T) {
	id := newIdentity(t)
	sock := startFake(t, &fakeWorkloadAPI{id: id})
	denied := startFake(t, &fakeWorkloadAPI{id: id, denied: true})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"jwt without audience", []string{"api", "fetch", "jwt", "-socketPath", sock}, "Error: -audience is required"},
		{"jwt bad spiffeID", []string{"api", "fetch", "jwt", "-socketPath", sock, "-audience", "a", "-spiffeID", "nope"},
			`Error: invalid -spiffeID "nope"`},
		{"bad timeout", []string{"api", "fetch", "x509", "-socketPath", sock, "-timeout", "0s"}, "Error: -timeout must be positive"},
		{"timeout not a duration", []string{"api", "fetch", "x509", "-socketPath", sock, "-timeout", "5"},
			`Error: invalid argument "5" for "--timeout"`},
		{"no identity", []string{"api", "fetch", "x509", "-socketPath", denied}, "PermissionDenied"},
		{"no agent", []string{"api", "fetch", "x509", "-socketPath", filepath.Join(t.TempDir(), "x.sock")},
			"Error: fetch X.509 SVIDs:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, context.Background(), agentcli.Options{}, tc.args...)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d stderr %q; want 1 and %q", code, errOut, tc.want)
			}
		})
	}
}

func TestWatch(t *testing.T) {
	id := newIdentity(t)
	fake := &fakeWorkloadAPI{id: id}
	sock := startFake(t, fake)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	root := agentcli.New(agentcli.Options{})
	out, errOut := newSyncBuffer(), newSyncBuffer()
	root.SetOut(out)
	root.SetErr(errOut)
	done := make(chan int, 1)
	go func() { done <- executeCLI(ctx, root, "api", "watch", "-socketPath", sock) }()

	out.waitFor(t, "first update", func(s string) bool { return count(s, "SPIFFE ID:") == 1 })
	fake.updates <- id.x509Response("second")
	out.waitFor(t, "second update", func(s string) bool { return strings.Contains(s, "Hint:\t\t\tsecond") })
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("watch exit %d after cancel, stderr %q; want 0", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not stop after cancel")
	}
	if got := count(out.String(), "Received 1 svid after"); got != 2 {
		t.Errorf("printed %d updates, want 2:\n%s", got, out.String())
	}
}

func TestHealthcheck(t *testing.T) {
	id := newIdentity(t)
	serving := startFake(t, &fakeWorkloadAPI{id: id})
	denied := startFake(t, &fakeWorkloadAPI{id: id, denied: true})
	missing := filepath.Join(t.TempDir(), "none.sock")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"serving", []string{"-socketPath", serving}, 0, "Agent is healthy.\n", ""},
		{"no identity issued is healthy", []string{"-socketPath", denied}, 0, "Agent is healthy.\n", ""},
		{"verbose", []string{"-socketPath", serving, "-verbose"}, 0, "Checking agent health...\nAgent is healthy.\n", ""},
		{"no agent", []string{"-socketPath", missing}, 1, "", "Error: agent is unhealthy: unable to determine health"},
		{"no agent verbose", []string{"-socketPath", missing, "-verbose"}, 1, "Checking agent health...\n", "Failed to check health:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, context.Background(), agentcli.Options{}, append([]string{"healthcheck"}, tc.args...)...)
			if code != tc.wantCode || out != tc.wantOut || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("exit %d stdout %q stderr %q; want %d %q %q", code, out, errOut, tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}
}
