package k8s_test

import (
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// The checks would be worthless if they passed whatever the manifests say.
// These tests make each check's mistake on their own decoded copy of the
// manifests and require the check to pass before and fail after.

func TestTieChecksCatchMistakes(t *testing.T) {
	for _, tc := range tieChecks() {
		t.Run(tc.name, func(t *testing.T) {
			m := buildModel(t, loadManifests(t))
			if err := tc.check(m); err != nil {
				t.Fatalf("fails before the mistake: %v", err)
			}
			tc.mistake(m)
			err := tc.check(m)
			if err == nil {
				t.Fatal("passes after the mistake")
			}
			t.Logf("caught: %v", err)
		})
	}
}

func TestRefChecksCatchMistakes(t *testing.T) {
	for _, tc := range refChecks() {
		t.Run(tc.name, func(t *testing.T) {
			s := loadManifests(t)
			if err := tc.check(s); err != nil {
				t.Fatalf("fails before the mistake: %v", err)
			}
			tc.mistake(s)
			err := tc.check(s)
			if err == nil {
				t.Fatal("passes after the mistake")
			}
			t.Logf("caught: %v", err)
		})
	}
}

// objectOf returns the object of type T called namespace/name, or panics:
// the mistakes name objects the manifests must have.
func objectOf[T runtime.Object](s *manifestSet, namespace, name string) T {
	p, ok := find[T](s, namespace, name)
	if !ok {
		panic("no object " + namespace + "/" + name)
	}
	return p.v
}

func ptr[T any](v T) *T { return &v }

// agentCluster returns the server's k8s_psat cluster the agent names.
func agentCluster(m *model) *psatCluster {
	c, ok := m.srv.Clusters[m.agt.PSAT.Cluster]
	if !ok {
		panic("no k8s_psat cluster " + m.agt.PSAT.Cluster)
	}
	return c
}

// pidHelper returns the helper that signals PostgreSQL.
func pidHelper(m *model) *loadedHelper {
	i := slices.IndexFunc(m.helpers, func(h loadedHelper) bool { return h.cfg.PIDFileName != "" })
	if i < 0 {
		panic("no helper with pid_file_name")
	}
	return &m.helpers[i]
}

// replaceArg replaces one argument of the PostgreSQL container.
func replaceArg(m *model, old, new string) {
	db, err := dbServer(m)
	if err != nil {
		panic(err)
	}
	i := slices.Index(db.c.Args, old)
	if i < 0 {
		panic("postgres has no argument " + old)
	}
	db.c.Args[i] = new
}

// spiffeIDOf returns the examples' ClusterSPIFFEID called name.
func spiffeIDOf(m *model, name string) *v1alpha1.ClusterSPIFFEID {
	return objectOf[*v1alpha1.ClusterSPIFFEID](m.s, "", name)
}

// registrarRole returns deploy/k8s's ClusterRole for the registrar.
func registrarRole(m *model) *rbacv1.ClusterRole {
	return objectOf[*rbacv1.ClusterRole](m.s, "", "spire-server-registrar")
}
