#!/usr/bin/env bash
# demo.sh is `make demo`: it starts the local cluster (etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler built from the Go module proxy, and a process node
# that runs pods as local processes), installs the operator with its Helm chart
# (charts/dllm-operator, Helm built from the Go module proxy), runs the manager, applies a
# DLLMService serving the shipped tiny trained model (models/tiny-tasks), waits until its runtime
# pod is Ready, asks the model questions over the OpenAI API, runs a short load so the cache
# tuner acts and prints its decisions, shows the API server rejecting a broken manifest, and
# keeps everything running until Ctrl-C, which stops every process it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

demo_dir=.demo
mkdir -p "$demo_dir" bin
export KUBEBUILDER_ASSETS
KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh kubectl cluster)
kubectl="$KUBEBUILDER_ASSETS/kubectl"
export KUBECONFIG="$PWD/$demo_dir/kubeconfig"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ kubectl %s\n' "$*"; "$kubectl" "$@"; }

step "Building the manager, the runtime, Helm and the local cluster"
go build -o bin/manager ./cmd/manager
go build -modfile=hack/helm/go.mod -o bin/helm helm.sh/helm/v3/cmd/helm
go build -o bin/dllm-runtime ./cmd/dllm-runtime
go build -o bin/devcluster ./hack/devcluster

pids=()
cleanup() {
	# The manager first, so it does not react to the cluster going away; then the cluster,
	# which stops the runtime pods' processes and the control plane.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "Starting the local cluster: control plane and a process node (logs in $demo_dir/cluster.log)"
rm -rf "$KUBECONFIG" "$demo_dir/node"
# In its own session, so Ctrl-C reaches this script alone and the cleanup stops things in order.
setsid bin/devcluster --write-kubeconfig "$KUBECONFIG" --node-root "$PWD/$demo_dir/node" \
	--image "dllm-runtime=$PWD/bin/dllm-runtime" >"$demo_dir/cluster.log" 2>&1 &
cluster_pid=$!
pids+=("$cluster_pid")
for _ in $(seq 1 240); do
	[[ -s "$KUBECONFIG" ]] && break
	kill -0 "$cluster_pid" 2>/dev/null || { tail -30 "$demo_dir/cluster.log" >&2; exit 1; }
	sleep 0.5
done
[[ -s "$KUBECONFIG" ]] || { echo "the cluster did not start; see $demo_dir/cluster.log" >&2; exit 1; }
grep '^Cluster ready' "$demo_dir/cluster.log" || true
show get nodes -o wide

step "Installing the operator with its Helm chart (charts/dllm-operator)"
export HELM_CACHE_HOME="$PWD/$demo_dir/helm" HELM_CONFIG_HOME="$PWD/$demo_dir/helm" HELM_DATA_HOME="$PWD/$demo_dir/helm"
# The process node gives pods no ServiceAccount token, so the chart's manager Deployment gets no
# replicas and the manager runs on this machine instead, as the chart's ServiceAccount: with
# exactly the RBAC the chart installs.
bin/helm install dllm-operator charts/dllm-operator --namespace dllm-operator-system --create-namespace \
	--set manager.replicas=0 --set runtime.image=dllm-runtime:latest --wait --timeout 2m
"$kubectl" wait --for condition=Established --timeout=60s crd/dllmservices.serving.dllm.dev
bin/helm list --all-namespaces

step "Starting the manager as the chart's ServiceAccount (logs in $demo_dir/manager.log)"
cp "$KUBECONFIG" "$demo_dir/manager.kubeconfig"
user=$("$kubectl" --kubeconfig "$demo_dir/manager.kubeconfig" config view -o jsonpath='{.users[0].name}')
"$kubectl" --kubeconfig "$demo_dir/manager.kubeconfig" config set "users.$user.act-as" \
	system:serviceaccount:dllm-operator-system:dllm-operator-controller-manager >/dev/null
setsid bin/manager --kubeconfig "$demo_dir/manager.kubeconfig" --health-probe-bind-address=127.0.0.1:0 \
	--metrics-bind-address=0 --runtime-image=dllm-runtime:latest --autotune-interval=3s >"$demo_dir/manager.log" 2>&1 &
pids+=($!)

step "Applying hack/demo-dllmservice.yaml: the tiny trained model in models/tiny-tasks"
sed "s|MODEL_DIR|$PWD/models/tiny-tasks|" hack/demo-dllmservice.yaml | "$kubectl" apply -f -
echo "Waiting for the runtime pod to load the model and pass its readiness probe..."
if ! "$kubectl" wait --for=condition=Ready --timeout=300s dllm/tiny-tasks; then
	show get dllm,deploy,pods -o wide
	"$kubectl" get dllm tiny-tasks -o jsonpath='{range .status.conditions[*]}{.type}={.status} ({.reason}): {.message}{"\n"}{end}'
	exit 1
fi

step "What the operator made of it"
show get dllm,deploy,pods -o wide
show logs deploy/tiny-tasks --tail 3

step "Asking the model over the OpenAI API"
# No kube-proxy runs here, so the Service's cluster IP routes nowhere; the demo asks the pod
# address that the Service's EndpointSlice lists, which the process node routes locally.
addr=$("$kubectl" get endpointslices -l kubernetes.io/service-name=tiny-tasks \
	-o jsonpath='{.items[0].endpoints[0].addresses[0]}:{.items[0].ports[0].port}')
echo "endpoint http://$addr/v1 (from the EndpointSlice of Service tiny-tasks)"
# ask PROMPT MAX_TOKENS [FIELDS]: PROMPT is a JSON string literal, FIELDS more request fields.
ask() {
	echo "  prompt $1"
	printf '  answer '
	curl -sf "http://$addr/v1/completions" -H 'Content-Type: application/json' \
		-d "{\"model\":\"tiny-tasks\",\"prompt\":$1,\"max_tokens\":$2${3:+,$3}}" | sed -n 's/.*"text":\("[^"]*"\).*/\1/p'
}
ask '"copy: llada8b\n"' 16
ask '"reverse: gitops\n"' 16
# Retrieval was trained with 4-token responses: ask for one 4-token block (the service's blocks are
# 16 tokens, and max_tokens rounds up to whole blocks).
ask '"find: a=7; k=q; z=3; m=x; d=5;\n? z\n"' 4 '"dllm":{"block_length":4}'

step "A short load, so the cache tuner acts (dllm-runtime loadgen, 40 s)"
bin/dllm-runtime loadgen --url "http://$addr" --model tiny-tasks --prompt $'copy: tuning\n' --max-tokens 16 \
	--clients 3 --duration 40s
show get dllm -o wide
echo "The tuner's decisions (status.cache.autotune.lastDecisions):"
"$kubectl" get dllm tiny-tasks -o jsonpath='{range .status.cache.autotune.lastDecisions[*]}  {.action}: {.reason}{"\n"}{end}'

step "Applying a broken manifest (hack/demo-invalid-dllmservice.yaml)"
if "$kubectl" apply -f hack/demo-invalid-dllmservice.yaml; then
	echo "the API server accepted a broken manifest" >&2
	exit 1
fi

step "The cluster keeps running. In another shell:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  $kubectl get dllm,pods -o wide"
echo "  curl -s http://$addr/v1/completions -H 'Content-Type: application/json' -d '{\"model\":\"tiny-tasks\",\"prompt\":\"copy: hello\\n\",\"max_tokens\":16}'"
echo "Press Ctrl-C to stop."
wait "$cluster_pid"
