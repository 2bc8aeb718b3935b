#!/usr/bin/env bash
# envtest-assets.sh builds the Kubernetes binaries the tests and the demo run (etcd,
# kube-apiserver and, on request, kubectl) from the Go module proxy, since no release download
# site is reachable, and prints the directory that holds them (use it as KUBEBUILDER_ASSETS).
#
# The versions are pinned by the wrapper modules in hack/envtest/{kube,etcd} (go.mod and go.sum):
# Kubernetes commands come from k8s.io/kubernetes with every staging module replaced by its
# published v0.x release; etcd from go.etcd.io/etcd/server/v3. Binaries are cached per user,
# version and pin set under ${DLLM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dllm-operator}, so
# only the first run is slow (about 10 minutes for etcd and kube-apiserver on an idle 2-core
# machine, 20 under load); later runs print the path at once.
#
# Usage: hack/envtest-assets.sh [--verify] [kubectl] [cluster]
#   kubectl    also build kubectl (the demo uses it, so no particular kubectl must be installed)
#   cluster    also build kube-controller-manager and kube-scheduler (the local cluster of
#              test/cluster: Deployments get Pods and the Pods get bound)
#   --verify   print each binary's version
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kube_mod="$root/hack/envtest/kube"
etcd_mod="$root/hack/envtest/etcd"

verify=false
binaries=(etcd kube-apiserver)
for arg in "$@"; do
	case "$arg" in
	--verify) verify=true ;;
	kubectl) binaries+=(kubectl) ;;
	cluster) binaries+=(kube-controller-manager kube-scheduler) ;;
	*) echo "usage: $0 [--verify] [kubectl] [cluster]" >&2; exit 2 ;;
	esac
done

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

# build NAME builds one binary into $assets, through a temporary file renamed into place, so an
# interrupted build never leaves a file that looks complete.
build() {
	local name=$1 tmp="$assets/.$1.tmp" start=$SECONDS
	case "$name" in
	etcd)
		log "Building etcd $etcd_version from the Go module proxy."
		(cd "$etcd_mod" && GOWORK=off CGO_ENABLED=0 go build -mod=readonly -trimpath \
			-ldflags "-s -w" -o "$tmp" .)
		;;
	*)
		local major minor pkg ldflags=""
		major=$(echo "${kube_version#v}" | cut -d. -f1)
		minor=$(echo "${kube_version#v}" | cut -d. -f2)
		# Version ldflags as the Kubernetes release build sets them, so `kubectl version` and the
		# apiserver's compatibility-version checks see a real release, not v0.0.0-master.
		for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
			ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
		done
		log "Building $name $kube_version from the Go module proxy (slow the first time)."
		(cd "$kube_mod" && GOWORK=off CGO_ENABLED=0 go build -mod=readonly -trimpath \
			-ldflags "-s -w$ldflags" -o "$tmp" "k8s.io/kubernetes/cmd/$name")
		;;
	esac
	mv "$tmp" "$assets/$name"
	log "Built $name in $((SECONDS - start))s."
}

mkdir -p "$assets"
for name in "${binaries[@]}"; do
	[[ -x "$assets/$name" ]] || build "$name"
done

if $verify; then
	for name in "${binaries[@]}"; do
		case "$name" in
		kubectl) "$assets/kubectl" version --client >&2 ;;
		*) "$assets/$name" --version >&2 ;;
		esac
	done
fi
echo "$assets"
