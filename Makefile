# The health exchange. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NETWORK := test-network/network.sh
HXDEV := go run ./services/cmd/hxdev
GO_PACKAGES := ./...
INTEGRATION_PACKAGES := ./services/...

.PHONY: help up status down demo test test-unit test-chaincode test-deploy test-integration test-slow bench fuzz lint images \
        network-up network-down network-status network-up-ha network-down-ha network-status-ha test-ha clean \
        generate verify-generate proto-lint breaking

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

up: ## start the network, MinIO and the four services and leave them running; print what runs where
	@echo "== make up: the network, MinIO, the services"
	@$(HXDEV) up

status: ## what runs where: the network, MinIO, each service and its health
	@$(HXDEV) status

down: ## stop the services, MinIO and the network, and remove the network's state
	@echo "== make down"
	@$(HXDEV) down

demo: up ## make up, then run the story end to end (everything stays up: make status, make down)
	@echo "== make demo: the story"
	@services/dev/demo.sh
	@echo "== the exchange is still running: 'make status', 'make down'"

test: lint test-unit test-chaincode test-deploy test-integration test-ha ## every test: lint, unit (race detector), chaincode, deploy's manifests, integration on the real network, faults on the high-availability profile
	@echo "== make test: all passed"

test-unit: ## unit tests of the root module, with the race detector (slow property tests: make test-slow)
	@echo "== unit tests (root module, -race -short)"
	go test -count=1 -race -short $(GO_PACKAGES)

test-slow: ## the unit tests in full: the slow property tests too (make fuzz runs them as well)
	@echo "== unit tests in full (root module)"
	go test -count=1 $(GO_PACKAGES)

test-chaincode: ## unit and fuzz-seed tests of the chaincode module, with the race detector
	@echo "== chaincode tests (-race)"
	cd chaincode && go test -count=1 -race ./...

test-deploy: ## the Kubernetes manifests (deploy/k8s): every overlay rendered with the kustomize API, decoded strictly, and checked
	@echo "== deploy tests (deploy module: render, strict decode, checks)"
	cd deploy && go test -count=1 ./...

test-integration: ## integration tests against the real network (started if needed, stopped again if it was not running), the peer-stall test alone, then the demo
	@echo "== integration tests (real Fabric network)"
	@$(NETWORK) with bash -c 'HX_SCREENSHOTS=$(CURDIR)/.cache/screenshots go test -count=1 -short -tags integration -timeout 20m $(INTEGRATION_PACKAGES) && \
	  echo "== a stalled peer (SIGSTOP), alone: it pauses the shared network" && \
	  go test -count=1 -tags integration,disruptive -run TestStalledPeer ./services/consent/ && \
	  echo "== the demo (make demo) against the same network, the services started for it" && \
	  $(HXDEV) with services/dev/demo.sh >/dev/null && echo "demo: ok"'

bench: ## benchmarks against the real network, each with its baseline from the same run; ends with the targets table
	@$(NETWORK) with services/dev/bench.sh

images: ## container images of the four daemons, without a container engine: an OCI image layout in .cache/images, each digest printed
	@go run ./services/cmd/hximages -out .cache/images

FUZZTIME ?= 10s
fuzz: test-slow ## the slow unit tests, then every fuzz target for FUZZTIME each (make test runs their seed corpora only)
	@echo "== fuzz ($(FUZZTIME) per target)"
	@set -e; for mod in . chaincode; do \
	  (cd $$mod && for pkg in $$(go list ./...); do \
	    for target in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	      echo "-- $$pkg $$target"; go test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	    done; \
	  done); \
	done

# staticcheck is pinned in services/dev/tools/go.mod and built on first use
# into .cache/lint-<pin>/bin.
LINT_TOOLS := services/dev/tools/ensure.sh

lint: verify-generate proto-lint ## generated code current, buf lint, gofmt, go vet and staticcheck (root, chaincode and deploy modules)
	@echo "== lint"
	@out="$$(gofmt -l . )"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet -tags integration,disruptive,ha $(GO_PACKAGES)
	cd chaincode && go vet ./...
	cd deploy && go vet ./...
	@bin="$$($(LINT_TOOLS))" && echo "staticcheck (root module, chaincode, deploy)" && \
	  "$$bin/staticcheck" -tags integration,disruptive,ha $(GO_PACKAGES) && (cd chaincode && "$$bin/staticcheck" ./...) && \
	  (cd deploy && "$$bin/staticcheck" ./...)

# The protobuf toolchain (buf and the protoc plugins) is pinned in
# proto/tools/go.mod and built on first use into .cache/prototools-<pin>/bin.
PROTO := proto/tools/proto.sh

generate: ## regenerate the code under proto/ (Go, gRPC, HTTP gateway, OpenAPI) from the .proto files
	@echo "== generate: buf generate in proto/"
	@$(PROTO) generate

verify-generate: ## fail, naming the files, if the generated code under proto/ is not what 'make generate' writes
	@echo "== verify-generate: regenerating a copy of proto/ and comparing"
	@$(PROTO) verify-generate

proto-lint: ## buf lint of proto/ (STANDARD rules)
	@echo "== proto-lint: buf lint proto/"
	@$(PROTO) lint

breaking: ## buf breaking of proto/ against the .proto files committed on branch main (FILE rules)
	@echo "== breaking: buf breaking proto/ against main"
	@$(PROTO) breaking

network-up: ## start the Fabric test network alone (idempotent; make up starts everything)
	@$(NETWORK) up

network-down: ## stop the Fabric test network and remove its state
	@$(NETWORK) down

network-status: ## what runs
	@$(NETWORK) status

# The high-availability profile (test-network/ha.sh): 3 Raft orderers, 2 peers
# per peer organisation, MinIO on 4 erasure-coded nodes, each node a host of
# its own (a network namespace on a bridge the script makes; root needed,
# without root: loopback addresses and no partition tests).
network-up-ha: ## start the high-availability profile of the network (separate hosts; see test-network/README.md)
	@$(NETWORK) up --ha

network-down-ha: ## stop it: no process, namespace, link or state left
	@$(NETWORK) down --ha

network-status-ha: ## what runs on the high-availability profile, where
	@$(NETWORK) status --ha

test-ha: ## fault tests on the high-availability profile (started and stopped again if it was not running): a killed Raft leader, a cut orderer, stopped peers, a stopped MinIO node
	@echo "== fault tests on the high-availability profile (separate hosts)"
	@mkdir -p .cache && log=.cache/test-ha.log; \
	$(NETWORK) with --ha go test -count=1 -tags ha -timeout 20m -v ./services/dev/hatest/ >$$log 2>&1; rc=$$?; \
	grep -E '^(=== RUN|--- |    |PASS|FAIL|ok )|^\[network-ha\] (error|last lines)' $$log; \
	if [ $$rc -ne 0 ]; then echo "== test-ha failed (exit $$rc); the last 80 lines of $$log:"; tail -n 80 $$log; fi; exit $$rc

# A MinIO server on loopback for development and the integration tests; the
# server is built on first use from the pin in test-network/minio/tools into
# .cache/minio-<pin>/bin. 'make network-down' stops it too.
MINIO := test-network/minio/minio.sh
.PHONY: minio-up minio-down minio-status

minio-up: ## start the MinIO server on 127.0.0.1 (idempotent; builds it the first time)
	@$(MINIO) up

minio-down: ## stop the MinIO server and remove its data and credentials
	@$(MINIO) down

minio-status: ## whether MinIO runs and answers (fails only if it runs but does not answer)
	@$(MINIO) status; rc=$$?; [ $$rc -eq 3 ] || exit $$rc

clean: down ## stop everything and remove every cached build (Fabric binaries included)
	rm -rf .cache
