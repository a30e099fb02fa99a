package helper_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/pkg/helper"
	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

func oneShot(t testing.TB, sock string) *helperconfig.Config {
	c := x509Config(t, sock)
	c.DaemonMode = false
	return c
}

func result(t testing.TB, ch <-chan error, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(timeout):
		t.Fatalf("Run did not return within %s", timeout)
		return nil
	}
}

func TestOneShotWaitsForIdentity(t *testing.T) {
	ca := newCA(t)
	sock := sockDir(t)
	api := newFakeAPI(t, ca, sock)
	api.Start(t) // serving, but no identity issued yet
	cfg := oneShot(t, sock)
	_, res := start(t, cfg, helper.Options{})

	// Wait until the helper asked (and was told "no identity issued").
	select {
	case <-api.X509SVIDCalls():
	case <-time.After(5 * time.Second):
		t.Fatal("helper never called FetchX509SVID")
	}
	select {
	case err := <-res:
		t.Fatalf("Run returned %v before an identity was issued", err)
	default:
	}
	api.SetX509SVIDs(svid(t, ca, "/app", ""))
	if err := result(t, res, 10*time.Second); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	readSVID(t, cfg.CertDir)
}

func TestOneShotSocketAppearsLate(t *testing.T) {
	ca := newCA(t)
	sock := sockDir(t)
	cfg := oneShot(t, sock)
	_, res := start(t, cfg, helper.Options{})
	api := newFakeAPI(t, ca, sock)
	api.SetX509SVIDs(svid(t, ca, "/app", ""))
	api.Start(t)
	if err := result(t, res, 10*time.Second); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	readSVID(t, cfg.CertDir)
}

func TestOneShotTimeout(t *testing.T) {
	tests := []struct {
		name      string
		serve     bool
		hint      string
		wantParts []string
	}{
		{"socket absent", false, "", []string{"timed out after 300ms waiting for an X.509-SVID from the Workload API at unix://", "last error:"}},
		{"no identity issued", true, "", []string{"waiting for an X.509-SVID from", "last error:", "no identity issued"}},
		{"hint not served", true, "db", []string{`waiting for an X.509-SVID (hint "db")`, `no SVID with hint "db"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := newCA(t)
			sock := sockDir(t)
			if tt.serve {
				api := newFakeAPI(t, ca, sock)
				if tt.hint != "" {
					api.SetX509SVIDs(svid(t, ca, "/app", "other"))
				}
				api.Start(t)
			}
			cfg := oneShot(t, sock)
			cfg.Hint = tt.hint
			cfg.ExitTimeout = 300 * time.Millisecond
			_, res := start(t, cfg, helper.Options{})
			err := result(t, res, 10*time.Second)
			var te *helper.TimeoutError
			if !errors.As(err, &te) {
				t.Fatalf("Run = %v, want a *TimeoutError", err)
			}
			if code := helper.ExitCode(err); code != helper.ExitTimeout {
				t.Errorf("ExitCode = %d, want %d", code, helper.ExitTimeout)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message spans lines: %q", msg)
			}
			for _, p := range tt.wantParts {
				if !strings.Contains(msg, p) {
					t.Errorf("message %q lacks %q", msg, p)
				}
			}
		})
	}
}

func TestOneShotJWT(t *testing.T) {
	ca := newCA(t)
	sock := sockDir(t)
	api := newFakeAPI(t, ca, sock)
	api.SetX509SVIDs(svid(t, ca, "/app", ""))
	api.Start(t)
	cfg := oneShot(t, sock)
	cfg.JWTSVIDs = []helperconfig.JWTSVID{{Audience: "db", ExtraAudiences: []string{"cache"}, FileName: "db.jwt"}}
	cfg.JWTBundleFileName = "jwt_bundle.json"
	_, res := start(t, cfg, helper.Options{})
	if err := result(t, res, 10*time.Second); err != nil {
		t.Fatalf("Run = %v", err)
	}
	readSVID(t, cfg.CertDir)
	tok, err := os.ReadFile(filepath.Join(cfg.CertDir, "db.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	if parts := strings.Split(string(tok), "."); len(parts) != 3 {
		t.Fatalf("db.jwt is not a compact JWS: %q", tok)
	}
	claims, _ := base64.RawURLEncoding.DecodeString(strings.Split(string(tok), ".")[1])
	var c struct {
		Aud []string `json:"aud"`
	}
	if err := json.Unmarshal(claims, &c); err != nil || len(c.Aud) != 2 || c.Aud[0] != "db" || c.Aud[1] != "cache" {
		t.Fatalf("token audiences %v (%v), want [db cache]", c.Aud, err)
	}
	raw, err := os.ReadFile(filepath.Join(cfg.CertDir, "jwt_bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bundles map[string]string
	if err := json.Unmarshal(raw, &bundles); err != nil {
		t.Fatal(err)
	}
	if _, ok := bundles[td]; !ok {
		t.Fatalf("jwt_bundle.json keys %v, want %q", bundles, td)
	}
	for name, want := range map[string]os.FileMode{"db.jwt": 0o600, "jwt_bundle.json": 0o600} {
		fi, err := os.Stat(filepath.Join(cfg.CertDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %#o, want %#o", name, fi.Mode().Perm(), want)
		}
	}
}
