# dllm-operator: run `make help` for the targets.

GO ?= go
# Tools pinned as `tool` directives: controller-gen in go.mod, golangci-lint in hack/tools/go.mod.
CONTROLLER_GEN ?= $(GO) tool controller-gen
GOLANGCI_LINT ?= $(GO) tool -modfile=hack/tools/go.mod golangci-lint
# Short fuzzing per target for `make fuzz`; raise it when hunting.
FUZZTIME ?= 20s
IMG ?= dllm-operator:latest
# IMG_RUNTIME and IMG_RUNTIME_CUDA are the runtime images (CPU and CUDA) the docker-build
# targets build.
IMG_RUNTIME ?= dllm-runtime:latest
IMG_RUNTIME_CUDA ?= dllm-runtime:cuda
CONTAINER_TOOL ?= docker

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate the CRD and RBAC from the Go markers, copy them into the chart, render config/ from the chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	GO=$(GO) hack/render-manifests.sh

.PHONY: generate
generate: ## Generate deepcopy and apply-configuration code for api/, and the API reference docs/api-reference.md.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" applyconfiguration:headerFile="hack/boilerplate.go.txt" paths="./api/..."
	$(GO) run ./hack/apidocs > docs/api-reference.md

.PHONY: fmt
fmt: ## Format the Go code.
	$(GO) fmt ./...

.PHONY: vet
vet: ## Run go vet, integration tests included.
	$(GO) vet -tags integration ./...

.PHONY: lint
lint: ## Run golangci-lint (style, errors, and the package layering rules).
	$(GOLANGCI_LINT) run ./...

.PHONY: lint-fix
lint-fix: ## Run golangci-lint and apply its fixes.
	$(GOLANGCI_LINT) run --fix ./...

.PHONY: verify
verify: generate manifests fmt lint ## Regenerate everything, lint, and fail if the tree changed.
	$(GO) mod tidy
	@git diff --exit-code || { echo "generated files or go.mod are stale: run make generate manifests fmt and commit" >&2; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard); test -z "$$untracked" || { echo "$$untracked"; echo "untracked files after generation: commit them" >&2; exit 1; }

.PHONY: update-golden
update-golden: ## Rewrite the golden files in testdata/ directories.
	$(GO) test ./controllers/render/ -update

##@ Test

.PHONY: test
test: test-unit test-fuzz test-integration ## Run every test: unit, brief fuzzing, then envtest against a real kube-apiserver.

.PHONY: test-unit
test-unit: ## Run the unit tests with the race detector.
	$(GO) test -race -count=1 ./...

.PHONY: check-cuda
check-cuda: ## Compile the CUDA backend and its tests (-tags cuda), lint it, check its PTX is current; needs the CUDA headers, no GPU.
	GO=$(GO) hack/check-cuda.sh

.PHONY: test-integration
test-integration: ## Run the envtest suites and the local cluster's tests against the control plane built by hack/envtest-assets.sh.
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh cluster)" $(GO) test -tags integration -count=1 -v ./test/integration/... ./test/cluster/... ./test/e2e/...

.PHONY: envtest-assets
envtest-assets: ## Build (once) and print the directory of etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl.
	hack/envtest-assets.sh --verify kubectl cluster

# Every fuzz target, as package:Target. `make fuzz` runs each for FUZZTIME, `make test` for
# FUZZTIME_TEST (a smoke run that still mutates beyond the seed corpus).
FUZZ_TARGETS := \
	./runtime/contract/:FuzzParse \
	./controllers/render/:FuzzModelLocation \
	./controllers/observe/:FuzzParse \
	./runtime/weights/:FuzzParseHeader \
	./runtime/weights/:FuzzConfig \
	./runtime/tokenizer/:FuzzRoundTrip \
	./runtime/tokenizer/:FuzzLoad \
	./runtime/backend/cpu/:FuzzMatMul \
	./runtime/sampler/:FuzzLLaDA \
	./runtime/server/:FuzzRequestParsing \
	./runtime/hub/:FuzzParseSource \
	./runtime/hub/:FuzzParseRevision
FUZZTIME_TEST ?= 3s

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME.
	@FUZZTIME=$(FUZZTIME) GO=$(GO) hack/fuzz.sh $(FUZZ_TARGETS)

.PHONY: test-fuzz
test-fuzz: ## Run each fuzz target briefly (FUZZTIME_TEST).
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_TEST)

##@ Benchmarks

.PHONY: bench
bench: ## GEMM beside OpenBLAS (needs libopenblas-dev), attention, one denoising step, the samplers.
	hack/bench-gemm.sh
	$(GO) test -run '^$$' -bench 'Attention' ./runtime/backend/cpu/
	$(GO) test -run '^$$' -bench 'DenoisingStep' -benchtime 3x ./runtime/model/
	$(GO) test -run '^$$' -bench . -benchtime 5x ./runtime/sampler/

.PHONY: bench-cache
bench-cache: ## dLLM-Cache: the exact and the cached path on the two standard workloads (REPEATS=3).
	hack/bench-cache.sh

.PHONY: quality-table
quality-table: ## Accuracy and speed of models/tiny-tasks, exact and over a grid of cache settings: docs/quality-speed.md.
	$(GO) build -o bin/dllm-runtime ./cmd/dllm-runtime
	hack/train-tiny/quality_table.py --runtime bin/dllm-runtime --model models/tiny-tasks \
		--items 100 --tasks copy,reverse,sort,retrieve >docs/quality-speed.md.tmp
	mv docs/quality-speed.md.tmp docs/quality-speed.md

.PHONY: train-tiny
train-tiny: ## Retrain models/tiny-tasks on the CPU (about 70 minutes; needs python3-torch and libopenblas0-pthread).
	hack/train-tiny/train.sh models/tiny-tasks

##@ Build

.PHONY: build
build: ## Build bin/manager.
	$(GO) build -o bin/manager ./cmd/manager

.PHONY: run
run: manifests generate ## Run the manager against the cluster in your kubeconfig.
	$(GO) run ./cmd/manager

.PHONY: demo
demo: ## The main job: the local cluster, the operator installed with its Helm chart, the tiny model served and tuned; Ctrl-C stops.
	hack/demo.sh

##@ Deployment

.PHONY: docker-build
docker-build: ## Build the manager image IMG (Dockerfile; needs a container engine).
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-build-runtime
docker-build-runtime: ## Build the CPU runtime image IMG_RUNTIME (Dockerfile.runtime).
	$(CONTAINER_TOOL) build -f Dockerfile.runtime -t $(IMG_RUNTIME) .

.PHONY: docker-build-runtime-cuda
docker-build-runtime-cuda: ## Build the CUDA runtime image IMG_RUNTIME_CUDA (Dockerfile.runtime-cuda; needs a container engine).
	$(CONTAINER_TOOL) build -f Dockerfile.runtime-cuda -t $(IMG_RUNTIME_CUDA) .

.PHONY: install
install: manifests ## Install the CRD into the cluster in your kubeconfig.
	kubectl apply --server-side -k config/crd

.PHONY: uninstall
uninstall: manifests ## Remove the CRD (and every DLLMService) from the cluster.
	kubectl delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator (config/default) with image IMG.
	kubectl kustomize config/default | sed 's|image: dllm-operator:latest|image: $(IMG)|' | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator deployed by make deploy.
	kubectl delete --ignore-not-found -k config/default

.PHONY: build-installer
build-installer: manifests ## Write dist/install.yaml: every manifest needed to install the operator.
	mkdir -p dist
	kubectl kustomize config/default | sed 's|image: dllm-operator:latest|image: $(IMG)|' > dist/install.yaml
