package kubeenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/svidkit/svidkit/internal/testenv"
)

// Issuer is the service-account token issuer (iss claim) of every Env.
const Issuer = "https://kubernetes.default.svc.cluster.local"

// adminToken authenticates Config; the token file maps it to kubeenv-admin
// in system:masters.
const adminToken = "kubeenv-admin-token"

// readyTimeout bounds the wait for /readyz. The apiserver is ready in
// about 10 s on an idle machine, several times that on a loaded CI runner
// building other packages at the same time.
const readyTimeout = 3 * time.Minute

// Env is one running etcd and kube-apiserver pair.
type Env struct {
	// Config reaches the apiserver as the admin user (system:masters).
	// Copy it (rest.CopyConfig) before changing it.
	Config *rest.Config

	// StartupTime is how long the apiserver took from start to /readyz
	// answering ok.
	StartupTime time.Duration

	etcd, apiserver *process
	stopOnce        sync.Once
	stopErr         error
}

// Start runs etcd and kube-apiserver in a temporary directory and returns
// once /readyz answers ok. Both processes stop when the test ends. It
// skips the test (fails it under CI=true) when the binaries are missing.
func Start(t testing.TB) *Env {
	t.Helper()
	apiserverBin, etcdBin := binaries(t)
	dir := t.TempDir() // registered before Stop's cleanup, so removed after it
	e := &Env{}
	t.Cleanup(func() {
		if t.Failed() {
			e.logTails(t)
		}
		if err := e.Stop(); err != nil {
			t.Error(err)
		}
	})
	if err := e.start(t, dir, apiserverBin, etcdBin); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *Env) start(t testing.TB, dir, apiserverBin, etcdBin string) error {
	clientURL := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	peerURL := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	var err error
	e.etcd, err = startProcess("etcd", etcdBin, filepath.Join(dir, "etcd.log"),
		"--name=kubeenv",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubeenv="+peerURL,
		// Test data need not survive a crash; fsync dominates etcd's
		// latency on a loaded disk.
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}

	caPEM, err := servingCert(filepath.Join(dir, "apiserver.crt"), filepath.Join(dir, "apiserver.key"))
	if err != nil {
		return err
	}
	saKey, saPub := filepath.Join(dir, "service-account.key"), filepath.Join(dir, "service-account.pub")
	if err := signingKey(saKey, saPub); err != nil {
		return err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	// token,user,uid,"group1,group2"
	if err := os.WriteFile(tokens, []byte(adminToken+`,kubeenv-admin,kubeenv-admin,"system:masters"`+"\n"), 0o600); err != nil {
		return fmt.Errorf("kubeenv: write token file: %w", err)
	}
	port := testenv.FreePort(t)
	e.apiserver, err = startProcess("kube-apiserver", apiserverBin, filepath.Join(dir, "kube-apiserver.log"),
		"--etcd-servers="+clientURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--tls-cert-file="+filepath.Join(dir, "apiserver.crt"),
		"--tls-private-key-file="+filepath.Join(dir, "apiserver.key"),
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+tokens,
		"--authorization-mode=RBAC",
		"--service-account-issuer="+Issuer,
		"--service-account-key-file="+saPub,
		"--service-account-signing-key-file="+saKey,
		// Without a controller manager no pod would get its service
		// account's token volume; tests create pods as plain objects.
		"--disable-admission-plugins=ServiceAccount",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		// The default reconciler publishes the advertise address as the
		// kubernetes Service's endpoint and refuses a loopback one; no pod
		// here ever calls that Service.
		"--endpoint-reconciler-type=none",
	)
	if err != nil {
		return err
	}
	e.Config = &rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(port),
		BearerToken:     adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
	}
	started := time.Now()
	if err := e.waitReady(); err != nil {
		return err
	}
	e.StartupTime = time.Since(started)
	return nil
}

// waitReady polls /readyz until it answers ok, either process exits, or
// readyTimeout passes.
func (e *Env) waitReady() error {
	client, err := rest.HTTPClientFor(e.Config)
	if err != nil {
		return fmt.Errorf("kubeenv: HTTP client: %w", err)
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		last := readyz(ctx, client, e.Config.Host)
		if last == nil {
			return nil
		}
		select {
		case <-e.etcd.done:
			return e.etcd.exitError()
		case <-e.apiserver.done:
			return e.apiserver.exitError()
		case <-ctx.Done():
			return fmt.Errorf("kubeenv: kube-apiserver not ready after %s: %w", readyTimeout, last)
		case <-tick.C:
		}
	}
}

// readyz reports nil when GET /readyz answers 200.
func readyz(ctx context.Context, client *http.Client, host string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, host+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %s", resp.Status)
	}
	return nil
}

// PIDs returns the process IDs of etcd and kube-apiserver; each leads its
// own process group.
func (e *Env) PIDs() []int {
	var pids []int
	for _, p := range []*process{e.etcd, e.apiserver} {
		if p != nil {
			pids = append(pids, p.pid())
		}
	}
	return pids
}

// Stop stops kube-apiserver, then etcd, and waits until both process
// groups are gone. Later calls return the first call's result; the
// test's cleanup calls it too.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() {
		for _, p := range []*process{e.apiserver, e.etcd} {
			if p != nil {
				e.stopErr = errors.Join(e.stopErr, p.stop())
			}
		}
	})
	return e.stopErr
}

// logTails logs the end of both processes' logs, for a failed test.
func (e *Env) logTails(t testing.TB) {
	for _, p := range []*process{e.etcd, e.apiserver} {
		if p != nil {
			t.Logf("kubeenv: last lines of %s:\n%s", p.logPath, p.logTail(30))
		}
	}
}
