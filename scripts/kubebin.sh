#!/usr/bin/env bash
# Builds kube-apiserver and etcd for internal/kubeenv from the module in
# tools/kubebin (k8s.io/kubernetes and go.etcd.io/etcd/server/v3 from the Go
# module proxy; no release download), once per version pair, into a cache
# directory outside the repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/svidkit/kubebin/<k8s>-<etcd>/
# A directory that already holds both binaries is reused. The last line
# printed is that directory; `export SVIDKIT_KUBEBIN_DIR=$(bash
# scripts/kubebin.sh | tail -n1)` points the tests at it.
set -euo pipefail

mod=$(cd "$(dirname "$0")/../tools/kubebin" && pwd)
ver() { awk -v m="$1" '$1 == m { print $2; exit }' "$mod/go.mod"; }
k8s=$(ver k8s.io/kubernetes)
etcd=$(ver go.etcd.io/etcd/server/v3)
if [ -z "$k8s" ] || [ -z "$etcd" ]; then
  echo "kubebin: cannot read the k8s.io/kubernetes and etcd versions from $mod/go.mod" >&2
  exit 1
fi

dir=${XDG_CACHE_HOME:-${HOME:?set HOME or XDG_CACHE_HOME}/.cache}/svidkit/kubebin/$k8s-$etcd
if [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ]; then
  echo "kubebin: kube-apiserver $k8s and etcd $etcd already built" >&2
  echo "$dir"
  exit 0
fi

# Build into a temporary sibling and rename it into place, so that an
# interrupted build never leaves a directory that looks complete.
mkdir -p "$(dirname "$dir")"
tmp=$(mktemp -d "$dir.tmp.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# kube-apiserver reports (at /version) and derives its default
# compatibility version from these; unset, it would say v0.0.0-master.
minor=${k8s#v*.}
minor=${minor%%.*}
vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$k8s -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean"

echo "kubebin: building kube-apiserver $k8s and etcd $etcd into $dir (several minutes the first time)" >&2
start=$SECONDS
(
  cd "$mod"
  export CGO_ENABLED=0
  # -mod=readonly: build exactly what go.mod and go.sum name.
  flags=(-mod=readonly -buildvcs=false -trimpath)
  go build "${flags[@]}" -ldflags "$ldflags" -o "$tmp/kube-apiserver" ./cmd/kube-apiserver
  go build "${flags[@]}" -ldflags "-s -w" -o "$tmp/etcd" ./cmd/etcd
)
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "kubebin: built in $((SECONDS - start)) s" >&2
echo "$dir"
