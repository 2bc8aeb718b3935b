#!/usr/bin/env bash
# demo.sh is `make demo`: it starts a local control plane (etcd and kube-apiserver built from the
# Go module proxy), installs the DLLMService CRD, runs the manager, applies config/samples, shows
# what the operator made of them, shows the API server rejecting a broken manifest, serves the
# shipped tiny trained model (models/tiny-tasks) with the runtime and asks it questions over the
# OpenAI API, and then keeps everything running until Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

demo_dir=.demo
mkdir -p "$demo_dir" bin
export KUBEBUILDER_ASSETS
KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh kubectl)
kubectl="$KUBEBUILDER_ASSETS/kubectl"
export KUBECONFIG="$PWD/$demo_dir/kubeconfig"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Building the manager and the local control plane"
go build -o bin/manager ./cmd/manager
go build -o bin/devcluster ./hack/devcluster
go build -o bin/dllm-runtime ./cmd/dllm-runtime

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "Starting etcd and kube-apiserver ($KUBEBUILDER_ASSETS)"
rm -f "$KUBECONFIG"
bin/devcluster --write-kubeconfig "$KUBECONFIG" >"$demo_dir/devcluster.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
	[[ -s "$KUBECONFIG" ]] && break
	kill -0 "${pids[0]}" 2>/dev/null || { cat "$demo_dir/devcluster.log" >&2; exit 1; }
	sleep 0.5
done
[[ -s "$KUBECONFIG" ]] || { echo "the control plane did not start; see $demo_dir/devcluster.log" >&2; exit 1; }
"$kubectl" version

step "Installing the DLLMService CRD"
"$kubectl" apply -k config/crd
"$kubectl" wait --for condition=Established --timeout=60s crd/dllmservices.serving.dllm.dev

step "Starting the manager (logs in $demo_dir/manager.log)"
bin/manager --kubeconfig "$KUBECONFIG" --health-probe-bind-address=127.0.0.1:0 >"$demo_dir/manager.log" 2>&1 &
pids+=($!)

step "Applying config/samples"
"$kubectl" apply -k config/samples
for name in llada-8b-instruct dream-7b-instruct; do
	"$kubectl" wait --for=jsonpath='{.status.observedGeneration}'=1 --timeout=60s "dllm/$name"
done

step "kubectl get dllm -o wide"
"$kubectl" get dllm -o wide

step "The Deployment rendered for llada-8b-instruct"
"$kubectl" get deployment llada-8b-instruct -o yaml

step "Its runtime configuration"
"$kubectl" get configmap llada-8b-instruct-runtime -o jsonpath='{.data.config\.json}'

step "Its conditions (no Deployment controller or kubelet runs here, so the rollout stays pending)"
"$kubectl" get dllm llada-8b-instruct -o jsonpath='{range .status.conditions[*]}{.type}={.status} ({.reason}): {.message}{"\n"}{end}'

step "Applying a broken manifest (hack/demo-invalid-dllmservice.yaml)"
if "$kubectl" apply -f hack/demo-invalid-dllmservice.yaml; then
	echo "the API server accepted a broken manifest" >&2
	exit 1
fi

step "The runtime serving the shipped tiny model (models/tiny-tasks; logs in $demo_dir/runtime.log)"
port=18000
cat >"$demo_dir/runtime.json" <<JSON
{"model":{"name":"tiny-tasks","family":"LLaDA","dir":"$PWD/models/tiny-tasks","dtype":"BFloat16","backend":"CPU"},
 "server":{"port":$port,"maxBatchSize":4,"maxQueue":16},
 "generation":{"steps":16,"genLength":16,"blockLength":16,"remasking":"LowConfidence","temperatureMilli":0},
 "cache":{"enabled":true,"promptRefreshInterval":100,"responseRefreshInterval":4,"transferPercent":25}}
JSON
bin/dllm-runtime serve --config "$demo_dir/runtime.json" >"$demo_dir/runtime.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
	curl -sf "localhost:$port/readyz" >/dev/null && break
	kill -0 "${pids[-1]}" 2>/dev/null || { cat "$demo_dir/runtime.log" >&2; exit 1; }
	sleep 0.5
done
# ask PROMPT MAX_TOKENS: PROMPT is a JSON string literal.
ask() {
	echo "  prompt $1"
	printf '  answer '
	curl -sf "localhost:$port/v1/completions" -H 'Content-Type: application/json' \
		-d "{\"model\":\"tiny-tasks\",\"prompt\":$1,\"max_tokens\":$2}" | sed -n 's/.*"text":\("[^"]*"\).*/\1/p'
}
ask '"copy: llada8b\n"' 16
ask '"reverse: gitops\n"' 16

step "The cluster keeps running. In another shell:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  $kubectl get dllm -o wide"
echo "Press Ctrl-C to stop."
wait "${pids[0]}"
