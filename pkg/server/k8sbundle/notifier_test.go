package k8sbundle_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svidkit/svidkit/internal/fakekube"
	"github.com/svidkit/svidkit/internal/testclock"
	"github.com/svidkit/svidkit/pkg/server/ca"
	"github.com/svidkit/svidkit/pkg/server/datastore/sqlite"
	"github.com/svidkit/svidkit/pkg/server/k8sbundle"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

// newCA returns a real CA manager on a fake clock, publishing to sqlite.
func newCA(t *testing.T) (*ca.Manager, *testclock.Clock) {
	t.Helper()
	clock := testclock.New(time.Now().Truncate(time.Second))
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m, err := ca.New(context.Background(), ca.Config{
		TrustDomain: td, Keys: ca.NewMemoryKeyStore(), Bundles: store, Clock: clock,
		Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, clock
}

// logRecords is a slog handler keeping every message with its error.
type logRecords struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	msg := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.Key + "=" + a.Value.String()
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, msg)
	l.mu.Unlock()
	return nil
}

func (l *logRecords) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

func (l *logRecords) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.msgs, func(m string) bool { return strings.Contains(m, s) })
}

// start runs a notifier until the test ends.
func start(t *testing.T, cfg k8sbundle.Config) {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.InitialBackoff, cfg.MaxBackoff = 5*time.Millisecond, 50*time.Millisecond
	n, err := k8sbundle.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// eventually polls cond until it holds or 5s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// published reports whether the ConfigMap key holds exactly the PEM of
// want, in order.
func published(api *fakekube.Server, ns, name, key string, want []*x509.Certificate) bool {
	cm := api.ConfigMap(ns, name)
	return cm != nil && holds(cm, key, want)
}

// holds reports whether the ConfigMap key holds exactly the PEM of want,
// in order.
func holds(cm *corev1.ConfigMap, key string, want []*x509.Certificate) bool {
	rest := []byte(cm.Data[key])
	var got []*x509.Certificate
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil || blk.Type != "CERTIFICATE" {
			return false
		}
		got = append(got, c)
	}
	return len(strings.TrimSpace(string(rest))) == 0 && slices.EqualFunc(got, want, (*x509.Certificate).Equal)
}

func bundleConfigMap(ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "spire"}},
		Data:       map[string]string{"other.txt": "kept"},
	}
}

func TestPublishAtStartAndOnRotation(t *testing.T) {
	api := fakekube.New(t)
	api.PutConfigMap(bundleConfigMap("spire", "spire-bundle"))
	m, clock := newCA(t)
	// Defaults: spire/spire-bundle, key bundle.crt.
	start(t, k8sbundle.Config{Source: m, KubeConfigFile: api.Kubeconfig(t, t.TempDir())})

	first := m.Bundle().X509Authorities()
	if len(first) != 1 {
		t.Fatalf("new CA has %d authorities", len(first))
	}
	eventually(t, "initial publish", func() bool { return published(api, "spire", "spire-bundle", "bundle.crt", first) })

	// At half the CA's life the next CA is prepared and joins the bundle.
	clock.Set(first[0].NotBefore.Add(first[0].NotAfter.Sub(first[0].NotBefore) / 2))
	if err := m.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	rotated := m.Bundle().X509Authorities()
	if len(rotated) != 2 {
		t.Fatalf("rotated bundle has %d authorities, want 2", len(rotated))
	}
	eventually(t, "publish after rotation", func() bool { return published(api, "spire", "spire-bundle", "bundle.crt", rotated) })

	cm := api.ConfigMap("spire", "spire-bundle")
	if cm.Data["other.txt"] != "kept" || cm.Labels["app"] != "spire" {
		t.Fatalf("merge patch clobbered other content: %+v", cm)
	}
}

func TestCustomConfigMapKey(t *testing.T) {
	api := fakekube.New(t)
	api.PutConfigMap(bundleConfigMap("security", "trust"))
	m, _ := newCA(t)
	start(t, k8sbundle.Config{Source: m, KubeConfigFile: api.Kubeconfig(t, t.TempDir()),
		Namespace: "security", ConfigMap: "trust", ConfigMapKey: "ca.pem"})
	eventually(t, "publish", func() bool {
		return published(api, "security", "trust", "ca.pem", m.Bundle().X509Authorities())
	})
}

func TestRetryAfterAPIServerFailure(t *testing.T) {
	api := fakekube.New(t)
	api.PutConfigMap(bundleConfigMap("spire", "spire-bundle"))
	api.SetFailing(true)
	m, _ := newCA(t)
	logs := &logRecords{}
	start(t, k8sbundle.Config{Source: m, KubeConfigFile: api.Kubeconfig(t, t.TempDir()), Log: slog.New(logs)})

	eventually(t, "repeated attempts", func() bool { return api.Failures() >= 3 })
	if published(api, "spire", "spire-bundle", "bundle.crt", m.Bundle().X509Authorities()) {
		t.Fatal("published while the apiserver was failing")
	}
	if !logs.contains("publish trust bundle to ConfigMap failed; will retry") {
		t.Fatalf("failure not logged: %q", logs.all())
	}
	api.SetFailing(false)
	eventually(t, "publish after recovery", func() bool {
		return published(api, "spire", "spire-bundle", "bundle.crt", m.Bundle().X509Authorities())
	})
}

func TestMissingConfigMap(t *testing.T) {
	api := fakekube.New(t)
	m, _ := newCA(t)
	logs := &logRecords{}
	start(t, k8sbundle.Config{Source: m, KubeConfigFile: api.Kubeconfig(t, t.TempDir()), Log: slog.New(logs)})

	eventually(t, "missing ConfigMap logged", func() bool {
		return logs.contains("ConfigMap spire/spire-bundle does not exist; create it")
	})
	if api.ConfigMap("spire", "spire-bundle") != nil {
		t.Fatal("the notifier created the ConfigMap")
	}
	// Once the manifests create it, the retry publishes.
	api.PutConfigMap(bundleConfigMap("spire", "spire-bundle"))
	eventually(t, "publish once the ConfigMap exists", func() bool {
		return published(api, "spire", "spire-bundle", "bundle.crt", m.Bundle().X509Authorities())
	})
}

func TestNewErrors(t *testing.T) {
	m, _ := newCA(t)
	tests := []struct {
		name string
		cfg  k8sbundle.Config
		msg  string
	}{
		{name: "no source", cfg: k8sbundle.Config{KubeConfigFile: "/x"}, msg: "bundle source is required"},
		{name: "bad kubeconfig", cfg: k8sbundle.Config{Source: m, KubeConfigFile: "/nonexistent/kubeconfig"}, msg: `kubeconfig "/nonexistent/kubeconfig"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := k8sbundle.New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("New error = %v, want %q", err, tt.msg)
			}
		})
	}
}

func TestConflictRetriedAtOnce(t *testing.T) {
	api := fakekube.New(t)
	api.PutConfigMap(bundleConfigMap("spire", "spire-bundle"))
	api.ConflictNext(2) // another server wrote between our get and patch, twice
	m, _ := newCA(t)
	logs := &logRecords{}
	start(t, k8sbundle.Config{Source: m, KubeConfigFile: api.Kubeconfig(t, t.TempDir()), Log: slog.New(logs)})
	eventually(t, "publish despite conflicts", func() bool {
		return published(api, "spire", "spire-bundle", "bundle.crt", m.Bundle().X509Authorities())
	})
	if logs.contains("will retry") {
		t.Fatalf("a conflict went through the failure backoff: %q", logs.all())
	}
}

func TestUnchangedBundleNotRewritten(t *testing.T) {
	api := fakekube.New(t)
	api.PutConfigMap(bundleConfigMap("spire", "spire-bundle"))
	m, _ := newCA(t)
	kubeconfig := api.Kubeconfig(t, t.TempDir())
	start(t, k8sbundle.Config{Source: m, KubeConfigFile: kubeconfig})
	eventually(t, "publish", func() bool {
		return published(api, "spire", "spire-bundle", "bundle.crt", m.Bundle().X509Authorities())
	})
	version := api.ConfigMap("spire", "spire-bundle").ResourceVersion

	// A second server (or a restart) with the same bundle leaves it alone.
	logs := &logRecords{}
	start(t, k8sbundle.Config{Source: m, KubeConfigFile: kubeconfig, Log: slog.New(logs)})
	eventually(t, "second notifier's check", func() bool { return logs.contains("ConfigMap already holds the trust bundle") })
	if got := api.ConfigMap("spire", "spire-bundle").ResourceVersion; got != version {
		t.Fatalf("resourceVersion %s -> %s: unchanged bundle was written again", version, got)
	}
}
