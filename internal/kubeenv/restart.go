package kubeenv

import "testing"

// StopAPIServer stops kube-apiserver, leaving etcd and every object in it;
// clients see connection errors until StartAPIServer. Tests use it for an
// apiserver outage or restart.
func (e *Env) StopAPIServer(t testing.TB) {
	t.Helper()
	if err := e.apiserver.stop(); err != nil {
		t.Fatal(err)
	}
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, on the
// same port with the same flags and keys, and returns once /readyz
// answers ok.
func (e *Env) StartAPIServer(t testing.TB) {
	t.Helper()
	old := e.apiserver
	p, err := startProcess(old.name, old.bin, old.logPath, old.args...)
	if err != nil {
		t.Fatal(err)
	}
	e.apiserver = p
	if err := e.waitReady(); err != nil {
		t.Fatal(err)
	}
}
