// Command etcd is the etcd server, built from go.etcd.io/etcd/server/v3 so
// that tests (internal/kubeenv) can run a real one beside kube-apiserver.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
