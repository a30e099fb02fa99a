package helper_test

import (
	"bytes"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/fakeworkloadapi"
	"github.com/svidkit/svidkit/internal/testca"
	"github.com/svidkit/svidkit/pkg/helper"
	"github.com/svidkit/svidkit/pkg/helper/helperconfig"
)

// federatedAPI serves an SVID of td with the federated bundles of
// a.test and z.test, and returns the three CAs by trust domain name.
func federatedAPI(t *testing.T, sock string) (*fakeworkloadapi.Server, map[string]*testca.CA) {
	t.Helper()
	cas := map[string]*testca.CA{td: newCA(t), "a.test": testca.NewForTest(t, "a.test"), "z.test": testca.NewForTest(t, "z.test")}
	api := newFakeAPI(t, cas[td], sock)
	api.SetX509SVIDs(svid(t, cas[td], "/app", ""))
	// Given in reverse order: the files must not depend on it.
	api.SetFederatedBundles(map[string][]byte{"spiffe://z.test": cas["z.test"].Root().Raw, "spiffe://a.test": cas["a.test"].Root().Raw})
	api.Start(t)
	return api, cas
}

// pemOf is the PEM of the roots of the given CAs, in order.
func pemOf(cas ...*testca.CA) []byte {
	var b bytes.Buffer
	for _, c := range cas {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Root().Raw})
	}
	return b.Bytes()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestIncludeFederatedDomains checks spiffe-helper's behaviour
// (pkg/disk/x509.go WriteX509Context): the bundle file holds the own trust
// domain's roots, and with include_federated_domains those of every other
// trust domain after them, ordered by trust domain name (go-spiffe's
// x509bundle.Set.Bundles order).
func TestIncludeFederatedDomains(t *testing.T) {
	for _, include := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[include], func(t *testing.T) {
			sock := sockDir(t)
			_, cas := federatedAPI(t, sock)
			cfg := x509Config(t, sock)
			cfg.IncludeFederatedDomains = include
			h, _ := start(t, cfg, helper.Options{})
			waitEvent(t, h, 5*time.Second, "the first write", isWrite)
			want := pemOf(cas[td])
			if include {
				want = pemOf(cas[td], cas["a.test"], cas["z.test"])
			}
			if got := readFile(t, filepath.Join(cfg.CertDir, "svid_bundle.pem")); !bytes.Equal(got, want) {
				t.Fatalf("svid_bundle.pem:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestBundleDir checks bundle_dir: one file per delivered trust domain
// with its roots only, the merged bundle file untouched, and a trust
// domain the Workload API stops delivering losing its file in the same
// write as the rest of the set, in both write modes.
func TestBundleDir(t *testing.T) {
	for _, mode := range []string{helperconfig.WriteModeAtomic, helperconfig.WriteModePlain} {
		t.Run(mode, func(t *testing.T) {
			sock := sockDir(t)
			api, cas := federatedAPI(t, sock)
			cfg := x509Config(t, sock)
			cfg.BundleDir = "bundles"
			cfg.WriteMode = mode
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			h, _ := start(t, cfg, helper.Options{})
			waitEvent(t, h, 5*time.Second, "the first write", isWrite)
			dir := filepath.Join(cfg.CertDir, "bundles")
			check := func(tds ...string) {
				t.Helper()
				entries, err := os.ReadDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				var want []string
				for _, name := range tds {
					want = append(want, name+".pem")
					if got := readFile(t, filepath.Join(dir, name+".pem")); !bytes.Equal(got, pemOf(cas[name])) {
						t.Errorf("bundles/%s.pem does not hold exactly %s's roots", name, name)
					}
				}
				if !slices.Equal(names, want) {
					t.Fatalf("bundles/ holds %v, want %v", names, want)
				}
				if got := readFile(t, filepath.Join(cfg.CertDir, "svid_bundle.pem")); !bytes.Equal(got, pemOf(cas[td])) {
					t.Error("svid_bundle.pem holds more than the own trust domain's roots without include_federated_domains")
				}
			}
			check("a.test", td, "z.test")
			if fi, err := os.Lstat(dir); err != nil || (mode == helperconfig.WriteModeAtomic) != (fi.Mode()&os.ModeSymlink != 0) {
				t.Fatalf("bundles: %v, %v; want a symlink into ..data exactly in atomic mode", fi, err)
			}

			api.SetFederatedBundles(map[string][]byte{"spiffe://a.test": cas["a.test"].Root().Raw})
			ev := waitEvent(t, h, 5*time.Second, "the write without z.test", isWrite)
			if !ev.Changed {
				t.Fatalf("write after z.test went away: %+v, want changed", ev)
			}
			check("a.test", td)
		})
	}
}
