package k8s_test

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/svidkit/svidkit/pkg/server/registrar/api/v1alpha1"
)

// manifestScheme holds every kind the manifests may use: the built-in
// kinds, CustomResourceDefinition (deploy/k8s/crds) and the registrar's
// resources (ClusterSPIFFEID and the others of v1alpha1), so that those
// decode as strictly as a Deployment does. Built once, never changed.
var manifestScheme = newManifestScheme()

func newManifestScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic("k8s_test: build the manifest scheme: " + err.Error())
		}
	}
	return s
}
