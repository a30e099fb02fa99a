package k8s_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svidkit/svidkit/internal/fakekubelet"
	"github.com/svidkit/svidkit/pkg/agent/workloadattest/k8s"
)

const (
	paymentsUID = "2c48913c-b29f-4b4e-9d1f-a2b6c1f0e8d4"
	nodeName    = "worker-3.prod.example.com"
)

// billingAPI is the container most tests look up; its ID is cid.
func billingAPI() fakekubelet.Container {
	return fakekubelet.Container{Name: "api", Image: "registry.example.com/payments/billing-api:1.8.2",
		ImageID: "registry.example.com/payments/billing-api@sha256:9e2d4f6a8c0b1d3e5f7a9c1b3d5e7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d",
		ID:      "containerd://" + cid}
}

// putBillingPod lists pod payments/billing-api-… (uid paymentsUID) with
// container api.
func putBillingPod(k *fakekubelet.Kubelet) {
	k.PutPod(fakekubelet.RunningPod("payments", "billing-api-7c9d8f6b5d-x2kqp", paymentsUID, "billing", nodeName,
		map[string]string{"app": "billing-api"}, billingAPI()))
}

// writeFile writes content to dir/name, replacing any file there by
// renaming a new one over it, as Kubernetes updates projected volumes.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// testCert is a certificate and key in PEM.
type testCert struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM string
	keyPEM  string
}

// newCert creates a certificate signed by parent, or self-signed (a CA)
// when parent is nil. It stays beside internal/testca on purpose: these are
// Kubernetes certificates (a kubelet client CA and client certificate
// named by common name, with one extended key usage each), not SPIFFE
// SVIDs, which is all testca mints.
func newCert(t *testing.T, cn string, parent *testCert, usage x509.ExtKeyUsage) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	signer, signerCert := key, tmpl
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{
		cert: cert, key: key,
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		keyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
	}
}

func listPods(t *testing.T, cfg k8s.KubeletConfig) (*k8s.PodList, error) {
	t.Helper()
	kc, err := k8s.NewKubelet(cfg)
	if err != nil {
		t.Fatalf("NewKubelet: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return kc.Pods(ctx)
}

func TestKubeletReadOnlyPort(t *testing.T) {
	kubelet := fakekubelet.New(t, fakekubelet.Options{})
	putBillingPod(kubelet)
	pods, err := listPods(t, k8s.KubeletConfig{ReadOnlyPort: kubelet.Port(), TokenPath: "/nonexistent"})
	if err != nil {
		t.Fatalf("Pods: %v", err)
	}
	pod, ok := pods.Pod(paymentsUID)
	if !ok {
		t.Fatalf("pod %s not in %+v", paymentsUID, pods)
	}
	if pod.Metadata.Namespace != "payments" || pod.Spec.ServiceAccountName != "billing" {
		t.Errorf("pod = %+v", pod)
	}
	if got := kubelet.Authorizations(); !slices.Equal(got, []string{""}) {
		t.Errorf("Authorization headers = %q; the read-only port gets no credentials", got)
	}
}

func TestKubeletSecurePort(t *testing.T) {
	dir := t.TempDir()
	clientCA := newCert(t, "kubelet-client-ca", nil, x509.ExtKeyUsageClientAuth)
	client := newCert(t, "svidkit-agent", clientCA, x509.ExtKeyUsageClientAuth)
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(clientCA.cert)
	otherCA := writeFile(t, dir, "other-ca.crt", newCert(t, "other-ca", nil, x509.ExtKeyUsageServerAuth).certPEM)
	token := writeFile(t, dir, "token", "agent-token\n")
	wrongToken := writeFile(t, dir, "wrong-token", "someone-else")
	certFile := writeFile(t, dir, "client.crt", client.certPEM)
	keyFile := writeFile(t, dir, "client.key", client.keyPEM)

	tests := []struct {
		name     string
		kubelet  fakekubelet.Options
		cfg      func(caPath string) k8s.KubeletConfig
		wantErr  string // empty: success
		wantAuth string // Authorization header the kubelet saw
	}{
		{
			name:     "ca verified chain at 127.0.0.1 without node name",
			cfg:      func(ca string) k8s.KubeletConfig { return k8s.KubeletConfig{CAPath: ca, TokenPath: token} },
			wantAuth: "Bearer agent-token",
		},
		{
			name: "node name matching the certificate",
			cfg: func(ca string) k8s.KubeletConfig {
				return k8s.KubeletConfig{CAPath: ca, TokenPath: token, NodeName: "127.0.0.1"}
			},
			wantAuth: "Bearer agent-token",
		},
		{
			name: "node name the certificate does not name",
			cfg: func(ca string) k8s.KubeletConfig {
				return k8s.KubeletConfig{CAPath: ca, TokenPath: token, NodeName: "localhost"}
			},
			wantErr: "verify kubelet certificate",
		},
		{
			name:    "certificate from another CA",
			cfg:     func(string) k8s.KubeletConfig { return k8s.KubeletConfig{CAPath: otherCA, TokenPath: token} },
			wantErr: "verify kubelet certificate",
		},
		{
			name: "skip verification",
			cfg: func(string) k8s.KubeletConfig {
				return k8s.KubeletConfig{SkipVerification: true, CAPath: "/nonexistent", TokenPath: token}
			},
			wantAuth: "Bearer agent-token",
		},
		{
			name:    "token refused",
			cfg:     func(ca string) k8s.KubeletConfig { return k8s.KubeletConfig{CAPath: ca, TokenPath: wrongToken} },
			wantErr: "401 Unauthorized: Unauthorized",
		},
		{
			name:    "client certificate",
			kubelet: fakekubelet.Options{ClientCAs: clientCAs},
			cfg: func(ca string) k8s.KubeletConfig {
				return k8s.KubeletConfig{CAPath: ca, CertificatePath: certFile, PrivateKeyPath: keyFile, TokenPath: "/nonexistent"}
			},
		},
		{
			name:    "anonymous",
			kubelet: fakekubelet.Options{Anonymous: true},
			cfg: func(ca string) k8s.KubeletConfig {
				return k8s.KubeletConfig{CAPath: ca, Anonymous: true, TokenPath: "/nonexistent"}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.kubelet
			opts.Secure, opts.Token = true, "agent-token"
			kubelet := fakekubelet.New(t, opts)
			putBillingPod(kubelet)
			cfg := tt.cfg(kubelet.WriteCA(t, t.TempDir(), "ca.crt"))
			cfg.SecurePort = kubelet.Port()
			pods, err := listPods(t, cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Pods error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pods: %v", err)
			}
			if _, ok := pods.Pod(paymentsUID); !ok {
				t.Errorf("pod %s not listed", paymentsUID)
			}
			if got := kubelet.Authorizations(); !slices.Equal(got, []string{tt.wantAuth}) {
				t.Errorf("Authorization headers = %q, want [%q]", got, tt.wantAuth)
			}
		})
	}
}

func TestKubeletTokenRotation(t *testing.T) {
	kubelet := fakekubelet.New(t, fakekubelet.Options{Secure: true, Token: "token-1"})
	putBillingPod(kubelet)
	dir := t.TempDir()
	token := writeFile(t, dir, "token", "token-1")
	kc, err := k8s.NewKubelet(k8s.KubeletConfig{
		SecurePort: kubelet.Port(),
		CAPath:     kubelet.WriteCA(t, dir, "ca.crt"),
		TokenPath:  token,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := kc.Pods(ctx); err != nil {
		t.Fatalf("Pods with the first token: %v", err)
	}
	// The kubelet now wants the rotated token, which is not on disk yet.
	kubelet.SetToken("token-2-rotated")
	if _, err := kc.Pods(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Pods before the token file rotated: %v, want 401", err)
	}
	writeFile(t, dir, "token", "token-2-rotated\n")
	if _, err := kc.Pods(ctx); err != nil {
		t.Fatalf("Pods after the token file rotated: %v", err)
	}
	want := []string{"Bearer token-1", "Bearer token-1", "Bearer token-2-rotated"}
	if got := kubelet.Authorizations(); !slices.Equal(got, want) {
		t.Errorf("Authorization headers = %q, want %q", got, want)
	}
}

func TestKubeletCARotation(t *testing.T) {
	kubelet := fakekubelet.New(t, fakekubelet.Options{Secure: true, Token: "t"})
	dir := t.TempDir()
	other := newCert(t, "other-ca", nil, x509.ExtKeyUsageServerAuth)
	ca := writeFile(t, dir, "ca.crt", other.certPEM)
	kc, err := k8s.NewKubelet(k8s.KubeletConfig{SecurePort: kubelet.Port(), CAPath: ca, TokenPath: writeFile(t, dir, "token", "t")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.Pods(context.Background()); err == nil {
		t.Fatal("Pods succeeded with a CA that did not sign the kubelet's certificate")
	}
	kubelet.WriteCA(t, dir, "ca.crt.new")
	if err := os.Rename(filepath.Join(dir, "ca.crt.new"), ca); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.Pods(context.Background()); err != nil {
		t.Fatalf("Pods after the CA file was replaced: %v", err)
	}
}

func TestNewKubeletErrors(t *testing.T) {
	dir := t.TempDir()
	token := writeFile(t, dir, "token", "t")
	ca := newCert(t, "ca", nil, x509.ExtKeyUsageServerAuth)
	caFile := writeFile(t, dir, "ca.crt", ca.certPEM)
	tests := []struct {
		name    string
		cfg     k8s.KubeletConfig
		wantErr string
	}{
		{name: "both ports", cfg: k8s.KubeletConfig{ReadOnlyPort: 10255, SecurePort: 10250},
			wantErr: "either the read-only or the secure port"},
		{name: "certificate without key", cfg: k8s.KubeletConfig{CAPath: caFile, CertificatePath: "/c.crt"},
			wantErr: "both the certificate and the private key"},
		{name: "missing CA file", cfg: k8s.KubeletConfig{CAPath: filepath.Join(dir, "missing.crt"), TokenPath: token},
			wantErr: `CA "` + filepath.Join(dir, "missing.crt") + `"`},
		{name: "CA file without certificates", cfg: k8s.KubeletConfig{CAPath: token, TokenPath: token},
			wantErr: "no PEM certificates"},
		{name: "missing token", cfg: k8s.KubeletConfig{CAPath: caFile, TokenPath: filepath.Join(dir, "nope")},
			wantErr: `token "` + filepath.Join(dir, "nope") + `"`},
		{name: "empty token", cfg: k8s.KubeletConfig{CAPath: caFile, TokenPath: writeFile(t, dir, "empty", "\n")},
			wantErr: "empty token file"},
		{name: "bad key pair", cfg: k8s.KubeletConfig{CAPath: caFile, CertificatePath: caFile, PrivateKeyPath: token},
			wantErr: "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k8s.NewKubelet(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewKubelet error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
