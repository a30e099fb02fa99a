package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/svidkit/svidkit/internal/testenv"
	"github.com/svidkit/svidkit/pkg/agentcli"
	"github.com/svidkit/svidkit/pkg/cliargs"
)

// runAgentCLI runs the svidkit-agent command line with args, as the
// binary's main would, until it exits or ctx ends; stdout goes to out.
func runAgentCLI(ctx context.Context, out io.Writer, args ...string) (code int, stderr string) {
	root := agentcli.New(agentcli.Options{})
	var errOut bytes.Buffer
	root.SetOut(out)
	root.SetErr(&errOut)
	code = cliargs.Execute(ctx, root, args)
	return code, errOut.String()
}

// agentCLI runs an svidkit-agent command line to its end.
func agentCLI(args ...string) cliResult {
	var out bytes.Buffer
	code, errOut := runAgentCLI(context.Background(), &out, args...)
	return cliResult{code, out.String(), errOut}
}

// TestAgentCLI runs every svidkit-agent Workload API sub-command, in
// SPIRE's single-dash flag forms, against a real agent for an entry the
// svidkit-server CLI registered: what they print is what go-spiffe's
// client gets from the same agent, tokens validate, written files load,
// a bounded `api watch` prints the agent's pushes, and health checks
// tell a serving agent from a stopped one.
func TestAgentCLI(t *testing.T) {
	s := startServer(t, testenv.Options{})
	ag := s.StartAgent(t, "a", s.JoinToken(t, testenv.NodePath))
	idle := s.StartAgent(t, "idle", s.JoinToken(t, "/idle")) // no entry for this process
	prefix := "spiffe://" + trustDomain
	workloadID := prefix + "/cli/workload"
	uidSel := testenv.UID(os.Getuid())
	createEntry := func(t *testing.T, path, hint string) {
		t.Helper()
		code, out, errOut := runServerCLI(s, "entry", "create", "-parentID", prefix+testenv.NodePath,
			"-spiffeID", prefix+path, "-selector", uidSel, "-hint", hint)
		if code != 0 {
			t.Fatalf("entry create %s: exit %d\nstdout: %s\nstderr: %s", path, code, out, errOut)
		}
	}
	createEntry(t, "/cli/workload", "internal")

	client := ag.Client(t)
	x := watch(t, client).waitFor(t, 30*time.Second, "the workload's SVID", func(x *workloadapi.X509Context) bool {
		return ids(x)[workloadID] != nil
	})
	leaf := ids(x)[workloadID].Certificates[0]
	sock := ag.Socket
	writeDir := t.TempDir()
	// A stale key file with loose permissions must not keep them.
	if err := os.WriteFile(filepath.Join(writeDir, "svid.0.key"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name  string
		args  []string
		check func(t *testing.T, r cliResult)
	}{
		{"healthcheck", []string{"healthcheck", "-socketPath", sock, "-verbose"}, func(t *testing.T, r cliResult) {
			if r.ok(t).out != "Checking agent health...\nAgent is healthy.\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"healthcheck shallow", []string{"healthcheck", "-socketPath", sock, "-shallow"}, func(t *testing.T, r cliResult) {
			if r.ok(t).out != "Agent is healthy.\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"healthcheck with no identity issued", []string{"healthcheck", "-socketPath", idle.Socket}, func(t *testing.T, r cliResult) {
			// As in SPIRE: the agent answered, this caller has no entry.
			if r.ok(t).out != "Agent is healthy.\n" {
				t.Errorf("stdout %q", r.out)
			}
		}},
		{"api fetch x509", []string{"api", "fetch", "x509", "-socketPath", sock, "-timeout", "10s"}, func(t *testing.T, r cliResult) {
			for _, want := range []string{
				"Received 1 svid after ",
				"SPIFFE ID:\t\t" + workloadID + "\n",
				"Hint:\t\t\tinternal\n",
				"SVID Serial:\t\t" + leaf.SerialNumber.String() + "\n",
				"SVID Valid After:\t" + leaf.NotBefore.UTC().String() + "\n",
				"SVID Valid Until:\t" + leaf.NotAfter.UTC().String() + "\n",
				"CA #1 Valid Until:\t" + serverCAs(t, s)[0].NotAfter.UTC().String() + "\n",
			} {
				if !strings.Contains(r.ok(t).out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.out)
				}
			}
		}},
		{"api fetch x509 write", []string{"api", "fetch", "x509", "-socketPath", sock, "-write", writeDir}, func(t *testing.T, r cliResult) {
			if !strings.Contains(r.ok(t).out, "Writing key to file "+filepath.Join(writeDir, "svid.0.key")+"\n") {
				t.Errorf("stdout lacks the key file line:\n%s", r.out)
			}
			checkWrittenSVID(t, writeDir, workloadID, serverCAs(t, s))
		}},
		{"api fetch x509 with no identity issued", []string{"api", "fetch", "x509", "-socketPath", idle.Socket}, func(t *testing.T, r cliResult) {
			r.fails(t, "PermissionDenied")
		}},
		{"api fetch jwt", []string{"api", "fetch", "jwt", "-socketPath", sock, "-audience", "db,cache", "-audience", "queue"}, func(t *testing.T, r cliResult) {
			svid := checkPrintedJWT(t, r.ok(t).out, workloadID, "internal", "db")
			if !slices.Equal(sorted(svid.Audience), []string{"cache", "db", "queue"}) {
				t.Errorf("audience %v, want db, cache and queue", svid.Audience)
			}
			// The agent itself accepts the token it printed.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := client.ValidateJWTSVID(ctx, svid.Marshal(), "queue"); err != nil {
				t.Errorf("agent does not validate the printed token: %v", err)
			}
		}},
		{"api fetch jwt for a SPIFFE ID", []string{"api", "fetch", "jwt", "-socketPath", sock, "-audience", "db", "-spiffeID", workloadID}, func(t *testing.T, r cliResult) {
			checkPrintedJWT(t, r.ok(t).out, workloadID, "internal", "db")
		}},
		{"api fetch jwt for a SPIFFE ID not issued", []string{"api", "fetch", "jwt", "-socketPath", sock, "-audience", "db", "-spiffeID", prefix + "/other"}, func(t *testing.T, r cliResult) {
			r.fails(t, "Error: fetch JWT-SVID:")
		}},
		{"api fetch jwt without audience", []string{"api", "fetch", "jwt", "-socketPath", sock}, func(t *testing.T, r cliResult) {
			r.fails(t, "Error: -audience is required")
		}},
		{"api fetch jwt with a bad SPIFFE ID", []string{"api", "fetch", "jwt", "-socketPath", sock, "-audience", "a", "-spiffeID", "nope"}, func(t *testing.T, r cliResult) {
			r.fails(t, `Error: invalid -spiffeID "nope"`)
		}},
		{"api fetch x509 with a zero timeout", []string{"api", "fetch", "x509", "-socketPath", sock, "-timeout", "0s"}, func(t *testing.T, r cliResult) {
			r.fails(t, "Error: -timeout must be positive")
		}},
		{"api fetch x509 with a timeout not a duration", []string{"api", "fetch", "x509", "-socketPath", sock, "-timeout", "5"}, func(t *testing.T, r cliResult) {
			r.fails(t, `Error: invalid argument "5" for "--timeout"`)
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) { st.check(t, agentCLI(st.args...)) })
	}

	t.Run("api watch", func(t *testing.T) {
		// Bounded: the watch runs until its context ends, as it would
		// until SIGINT.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pr, pw := io.Pipe()
		type result struct {
			code   int
			stderr string
		}
		done := make(chan result, 1)
		go func() {
			code, errOut := runAgentCLI(ctx, pw, "api", "watch", "-socketPath", sock)
			pw.Close()
			done <- result{code, errOut}
		}()
		lines := make(chan string)
		go func() {
			defer close(lines)
			for sc := bufio.NewScanner(pr); sc.Scan(); {
				lines <- sc.Text()
			}
		}()
		waitLine(t, lines, "Received 1 svid after ")
		waitLine(t, lines, "SPIFFE ID:\t\t"+workloadID)
		createEntry(t, "/cli/second", "second") // pushed to the open watch
		waitLine(t, lines, "Received 2 svid after ")
		cancel()
		for range lines {
		}
		select {
		case r := <-done:
			if r.code != 0 {
				t.Errorf("watch exit %d after its context ended, want 0; stderr %q", r.code, r.stderr)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("watch did not stop within 10s of its context ending")
		}
	})

	t.Run("healthcheck of a stopped agent", func(t *testing.T) {
		idle.Stop()
		agentCLI("healthcheck", "-socketPath", idle.Socket).fails(t, "Error: agent is unhealthy: unable to determine health")
		r := agentCLI("healthcheck", "-socketPath", idle.Socket, "-verbose")
		r.fails(t, "Failed to check health:")
		if r.out != "Checking agent health...\n" {
			t.Errorf("stdout %q", r.out)
		}
		agentCLI("api", "fetch", "x509", "-socketPath", idle.Socket, "-timeout", "1s").fails(t, "Error: fetch X.509 SVIDs:")
	})
}

// waitLine reads lines until one starts with prefix, failing the test
// when the lines end or 30 seconds pass first.
func waitLine(t *testing.T, lines <-chan string, prefix string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before a line starting %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return
			}
		case <-deadline:
			t.Fatalf("no line starting %q within 30s", prefix)
		}
	}
}

// checkWrittenSVID checks what `api fetch x509 -write dir` wrote: the key
// private, the SVID of id loading with its key and chaining to cas, the
// bundle exactly cas.
func checkWrittenSVID(t *testing.T, dir, id string, cas []*x509.Certificate) {
	t.Helper()
	for name, want := range map[string]os.FileMode{"svid.0.key": 0o600, "svid.0.pem": 0o644, "bundle.0.pem": 0o644} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), want)
		}
	}
	svid, err := x509svid.Load(filepath.Join(dir, "svid.0.pem"), filepath.Join(dir, "svid.0.key"))
	if err != nil {
		t.Fatalf("written SVID does not load with its key: %v", err)
	}
	td := spiffeid.RequireTrustDomainFromString(trustDomain)
	bundle, err := x509bundle.Load(td, filepath.Join(dir, "bundle.0.pem"))
	if err != nil {
		t.Fatalf("written bundle: %v", err)
	}
	if !slices.EqualFunc(bundle.X509Authorities(), cas, (*x509.Certificate).Equal) {
		t.Error("written bundle is not the server's CA")
	}
	if _, _, err := x509svid.Verify(svid.Certificates, bundle); err != nil || svid.ID.String() != id {
		t.Errorf("written SVID %s does not verify against the written bundle: %v", svid.ID, err)
	}
}

// checkPrintedJWT parses the output of `api fetch jwt`: one token of id
// with its entry's hint, then the trust domain's JWT bundle. The token
// must validate against the printed bundle for audience.
func checkPrintedJWT(t *testing.T, out, id, hint, audience string) *jwtsvid.SVID {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != 7 || lines[0] != "token("+id+"):" || lines[2] != "hint("+id+"):" || lines[3] != "\t"+hint ||
		lines[4] != "bundle(spiffe://"+trustDomain+"):" {
		t.Fatalf("want a token of %s, its hint %q and the bundle; stdout:\n%s", id, hint, out)
	}
	bundle, err := jwtbundle.Parse(spiffeid.RequireTrustDomainFromString(trustDomain), []byte(strings.TrimSpace(lines[5])))
	if err != nil {
		t.Fatalf("printed bundle does not parse: %v", err)
	}
	svid, err := jwtsvid.ParseAndValidate(strings.TrimSpace(lines[1]), bundle, []string{audience})
	if err != nil {
		t.Fatalf("printed token does not validate against the printed bundle: %v", err)
	}
	if svid.ID.String() != id {
		t.Errorf("token subject %s, want %s", svid.ID, id)
	}
	return svid
}
