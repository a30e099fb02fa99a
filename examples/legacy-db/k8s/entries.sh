#!/bin/sh
# Registration entries for examples/legacy-db/k8s, created with the server's
# admin CLI inside the server pod (deploy/k8s). Run once after
# `kubectl apply -k deploy/k8s` and `kubectl apply -k examples/legacy-db/k8s`.
set -eu

server() {
  kubectl exec -n spire spire-server-0 -c spire-server -- \
    /usr/local/bin/svidkit-server "$@"
}

# Every agent of the cluster: k8s_psat gives each agent the selector
# k8s_psat:cluster:demo-cluster, so this node entry groups them all and
# workload entries parented to it are served on every node.
server entry create \
  -node \
  -spiffeID spiffe://example.org/k8s-cluster/demo-cluster \
  -selector k8s_psat:cluster:demo-cluster

# The database. The client dials db.legacy-db.svc and checks it against the
# certificate's DNS names (sslmode=verify-full).
server entry create \
  -parentID spiffe://example.org/k8s-cluster/demo-cluster \
  -spiffeID spiffe://example.org/ns/legacy-db/sa/db \
  -selector k8s:ns:legacy-db \
  -selector k8s:sa:db \
  -dns db.legacy-db.svc \
  -dns db.legacy-db.svc.cluster.local

# The client. Its first DNS name becomes the certificate's CN, which
# PostgreSQL's cert method takes as the user name: app.
server entry create \
  -parentID spiffe://example.org/k8s-cluster/demo-cluster \
  -spiffeID spiffe://example.org/ns/legacy-db/sa/app \
  -selector k8s:ns:legacy-db \
  -selector k8s:sa:app \
  -dns app
