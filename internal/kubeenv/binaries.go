package kubeenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svidkit/svidkit/internal/prereq"
)

// DirEnv names the environment variable holding the directory with the
// kube-apiserver and etcd binaries. .ci/run sets it to what
// scripts/kubebin.sh printed.
const DirEnv = "SVIDKIT_KUBEBIN_DIR"

// buildHint tells a developer how to get the binaries.
const buildHint = "build them once with `bash scripts/kubebin.sh` (several minutes; cached outside the repository) or set " + DirEnv

// binaries returns the paths of kube-apiserver and etcd. Missing binaries
// fail the test under CI=true and skip it elsewhere.
func binaries(t testing.TB) (apiserver, etcd string) {
	t.Helper()
	dir, err := binDir()
	if err == nil {
		apiserver, etcd = filepath.Join(dir, "kube-apiserver"), filepath.Join(dir, "etcd")
		err = errors.Join(executable(apiserver), executable(etcd))
	}
	if err == nil {
		return apiserver, etcd
	}
	if prereq.CI() || os.Getenv(DirEnv) != "" {
		t.Fatalf("kubeenv: %v; %s", err, buildHint)
	}
	t.Skipf("kubeenv: %v; %s", err, buildHint)
	return "", ""
}

// binDir is $SVIDKIT_KUBEBIN_DIR, else the directory scripts/kubebin.sh
// builds into: <user cache dir>/svidkit/kubebin/<k8s version>-<etcd
// version>, the versions read from tools/kubebin/go.mod.
func binDir() (string, error) {
	if dir := os.Getenv(DirEnv); dir != "" {
		return dir, nil
	}
	modFile, err := findUp(filepath.Join("tools", "kubebin", "go.mod"))
	if err != nil {
		return "", err
	}
	k8s, etcd, err := versions(modFile)
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the cache directory: %w", err)
	}
	return filepath.Join(cache, "svidkit", "kubebin", k8s+"-"+etcd), nil
}

// findUp returns the first dir/rel for dir the working directory or one
// of its parents (go test runs in the package's directory).
func findUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s in the working directory or its parents", rel)
		}
		dir = parent
	}
}

// versions reads the required versions of k8s.io/kubernetes and the etcd
// server from a go.mod, as scripts/kubebin.sh does: the first line whose
// first field is the module path.
func versions(modFile string) (k8s, etcd string, err error) {
	f, err := os.Open(modFile)
	if err != nil {
		return "", "", fmt.Errorf("read versions: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch {
		case fields[0] == "k8s.io/kubernetes" && k8s == "":
			k8s = fields[1]
		case fields[0] == "go.etcd.io/etcd/server/v3" && etcd == "":
			etcd = fields[1]
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("read %s: %w", modFile, err)
	}
	if k8s == "" || etcd == "" {
		return "", "", fmt.Errorf("%s does not require k8s.io/kubernetes and go.etcd.io/etcd/server/v3", modFile)
	}
	return k8s, etcd, nil
}

// executable reports an error unless path is an executable regular file.
func executable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("no binary: %w", err)
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}
