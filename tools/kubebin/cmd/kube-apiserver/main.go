// Command kube-apiserver is Kubernetes' API server, built from the
// k8s.io/kubernetes module so that tests (internal/kubeenv) can run a real
// one without downloading a release binary. It is upstream's main minus the
// JSON log format registration, which the tests do not use.
package main

import (
	"os"

	_ "time/tzdata" // CronJob time zones, as upstream's main

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
