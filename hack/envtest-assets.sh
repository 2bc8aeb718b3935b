#!/usr/bin/env bash
# envtest-assets.sh builds the control-plane binaries the integration tests run against
# (kube-apiserver and etcd) from the Go module proxy, since no release download site is reachable,
# and prints the directory that holds them (use it as KUBEBUILDER_ASSETS).
#
# The versions are pinned by the wrapper modules in hack/envtest/{kube,etcd} (go.mod and go.sum):
# kube-apiserver comes from k8s.io/kubernetes with every staging module replaced by its published
# v0.x release; etcd from go.etcd.io/etcd/server/v3. Binaries are cached per user and version under
# ${DLLM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dllm-operator}, so only the first run is slow
# (about 10-25 minutes on 2 cores); later runs print the path in well under a second.
#
# Usage: hack/envtest-assets.sh            build if needed, print the assets directory
#        hack/envtest-assets.sh --verify   also run each binary's --version
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kube_mod="$root/hack/envtest/kube"
etcd_mod="$root/hack/envtest/etcd"

modversion() { # modversion DIR MODULE prints the version DIR's go.mod requires of MODULE
	(cd "$1" && GOWORK=off go list -m -f '{{.Version}}' "$2")
}
kube_version=$(modversion "$kube_mod" k8s.io/kubernetes)
etcd_version=$(modversion "$etcd_mod" go.etcd.io/etcd/server/v3)
# The key includes the wrapper go.sum files so a changed pin never reuses stale binaries.
sum_key=$(cat "$kube_mod/go.sum" "$etcd_mod/go.sum" | sha256sum | cut -c1-12)

cache_root=${DLLM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dllm-operator}
assets="$cache_root/envtest/kube-$kube_version-etcd-$etcd_version-$sum_key"

log() { printf '%s\n' "$*" >&2; }

build_kube() {
	local major minor
	major=$(echo "${kube_version#v}" | cut -d. -f1)
	minor=$(echo "${kube_version#v}" | cut -d. -f2)
	# Version ldflags as the Kubernetes release build sets them, so `kubectl version` and the
	# apiserver's compatibility-version checks see a real release rather than v0.0.0-master.
	local pkg ldflags=""
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
		ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	log "Building kube-apiserver $kube_version from the Go module proxy (slow the first time)."
	(cd "$kube_mod" && GOWORK=off CGO_ENABLED=0 go build -mod=readonly -trimpath \
		-ldflags "-s -w$ldflags" -o "$1/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
}

build_etcd() {
	log "Building etcd $etcd_version from the Go module proxy."
	(cd "$etcd_mod" && GOWORK=off CGO_ENABLED=0 go build -mod=readonly -trimpath \
		-ldflags "-s -w" -o "$1/etcd" .)
}

if [[ ! -x "$assets/kube-apiserver" || ! -x "$assets/etcd" ]]; then
	mkdir -p "$cache_root/envtest"
	# Build into a temporary directory and rename it into place, so an interrupted build never
	# leaves a directory that looks complete.
	tmp=$(mktemp -d "$cache_root/envtest/.build-XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	start=$SECONDS
	build_etcd "$tmp"
	build_kube "$tmp"
	rm -rf "$assets"
	mv "$tmp" "$assets"
	trap - EXIT
	log "Built envtest assets in $((SECONDS - start))s: $assets"
fi

if [[ "${1:-}" == "--verify" ]]; then
	"$assets/kube-apiserver" --version >&2
	"$assets/etcd" --version >&2
fi
echo "$assets"
