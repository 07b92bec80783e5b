# Tessera: the front door. `make help` lists the targets.
SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
PYTHON  ?= python3
NPM     ?= npm
VENV    := .venv
VENV_FUZZ := .venv-fuzz
VENV_LS := .venv-localstack
PYTHON_LOCALSTACK ?= python3.12
BIN     := .local/bin
CFNLINT := $(VENV)/bin/cfn-lint
LOCALKMS := $(BIN)/local-kms
STRIPEMOCK := $(BIN)/stripe-mock
IAMSIM  := tools/iamsim/node_modules/.installed
CDK     := tools/cdk/node_modules/.bin/cdk
STAGE   ?= dev
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
FUNCTIONS := $(notdir $(wildcard functions/*))

export GOFLAGS ?= -mod=readonly

.PHONY: help openapi tools tools-localstack run test test-moto test-localstack test-infra unit bench build synth deploy lint clean localstack-up localstack-down

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

tools: $(VENV)/.installed $(VENV_FUZZ)/.installed tools-localstack $(LOCALKMS) $(STRIPEMOCK) $(IAMSIM) $(CDK) ## install the pinned tools: Go modules, .venv (moto, waitress, cfn-lint), .venv-fuzz (schemathesis), .venv-localstack, local-kms, stripe-mock, IAM simulator, CDK CLI
	@$(GO) mod download
	@cd infra && $(GO) mod download

$(IAMSIM): tools/iamsim/package-lock.json
	$(NPM) ci --prefix tools/iamsim --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

# The API's schema fuzzing (internal/local/apifuzz): schemathesis in a venv of its own.
$(VENV_FUZZ)/.installed: requirements-fuzz.txt
	$(PYTHON) -m venv $(VENV_FUZZ)
	$(VENV_FUZZ)/bin/pip install --quiet --disable-pip-version-check -r requirements-fuzz.txt
	@touch $@

tools-localstack: $(VENV_LS)/.plugin-installed ## install LocalStack (Docker-free, pinned) and Tessera's provider plugin into .venv-localstack

# LocalStack needs Python 3.12 or newer (tools/localstack/python finds one); every dependency is
# pinned by tools/localstack/constraints.txt. The venv is made again when either file changes.
$(VENV_LS)/.installed: tools/localstack/requirements.txt tools/localstack/constraints.txt
	rm -rf $(VENV_LS)
	"$$(tools/localstack/python $(PYTHON_LOCALSTACK))" -m venv $(VENV_LS)
	$(VENV_LS)/bin/pip install --quiet --disable-pip-version-check -c tools/localstack/constraints.txt -r tools/localstack/requirements.txt
	@touch $@

# The plugin builds with the venv's pinned setuptools, from a copy (setuptools writes build/ and
# *.egg-info beside the sources) that follows links: moto_isolation.py is tools/moto's
# tessera_moto_isolation.py, shared with the moto engine. Then LocalStack's service catalog index is
# built once, for every instance to read (tools/localstack/plugin/tessera_localstack/catalog.py).
$(VENV_LS)/.plugin-installed: $(VENV_LS)/.installed $(wildcard tools/localstack/plugin/pyproject.toml tools/localstack/plugin/tessera_localstack/*.py)
	@tmp=$$(mktemp -d) && cp -RL tools/localstack/plugin/. "$$tmp" && \
	  $(VENV_LS)/bin/pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall "$$tmp" && \
	  rm -rf "$$tmp"
	$(VENV_LS)/bin/python -m tessera_localstack.catalog $(VENV_LS)/static
	@touch $@

$(CDK): tools/cdk/package-lock.json
	$(NPM) ci --prefix tools/cdk --no-audit --no-fund --loglevel=error
	@touch $@

$(LOCALKMS): go.mod go.sum
	@mkdir -p $(BIN)
	$(GO) build -o $@ github.com/nsmithuk/local-kms

# stripe-mock: Stripe's stateless API mock, a Go tool of go.mod (the billing tests report to it).
$(STRIPEMOCK): go.mod go.sum
	@mkdir -p $(BIN)
	$(GO) build -o $@ github.com/stripe/stripe-mock

openapi: ## regenerate api/openapi.json from the route table and the handlers' contracts (a test fails when it is stale)
	$(GO) generate ./internal/wire/openapi

run: tools ## start the local stack and serve the API with the demo tenants (Ctrl-C stops all); CELLS=2 runs two cells behind the cell router
	$(GO) run ./cmd/tessera up $(if $(CELLS),--cells $(CELLS))

# The root module's tests run once per emulator (moto, then LocalStack); EMULATOR=moto or
# EMULATOR=localstack runs one. infra/ needs no emulator: once.
EMULATOR ?=
ifneq ($(filter-out moto localstack,$(EMULATOR)),)
$(error EMULATOR=$(EMULATOR): want moto or localstack)
endif
TEST_ENGINES := $(or $(EMULATOR),moto localstack)

test: tools lint $(addprefix test-,$(TEST_ENGINES)) test-infra ## everything, from a fresh clone: vet, staticcheck, unit and integration tests on moto and on LocalStack (EMULATOR=moto|localstack: one)

test-moto: tools ## the root module's tests on moto server and local-kms
	TESSERA_EMULATOR=moto $(GO) test -count=1 ./...

test-localstack: tools ## the root module's tests on LocalStack (no Docker)
	TESSERA_EMULATOR=localstack $(GO) test -count=1 ./...

test-infra: tools ## the CDK app's tests (infra/)
	cd infra && $(GO) test -count=1 ./...

unit: ## unit tests only (no emulator needed; integration tests skip unless CI=true)
	$(GO) test -short ./...
	cd infra && $(GO) test -short ./...

lint: tools ## gofmt, then go vet, staticcheck and go mod tidy -diff in both modules (the root and infra/)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.venv/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd infra && $(GO) vet ./...
	$(GO) tool staticcheck ./...
	cd infra && $(GO) tool staticcheck ./...
	$(GO) mod tidy -diff
	cd infra && $(GO) mod tidy -diff

bench: tools ## isolation tax and CPU per request, STS/KMS calls, init, size, onboarding, metering, flood, token verification (bench/results.txt); STS/KMS scale model (bench/scale.txt); emulator GetItem latency (bench/engine.txt); backup and restore (bench/backup.txt); tier migration (bench/migrate.txt); fleet rollouts (bench/fleet.txt); micro-benchmarks (bench/micro.txt)
	$(GO) run ./cmd/tessera-bench -out bench/results.txt
	$(GO) run ./cmd/tessera-bench -scale -scale-out bench/scale.txt
	$(GO) run ./cmd/tessera-bench -engine-only -engine-out bench/engine.txt
	$(GO) run ./cmd/tessera-bench -backup-only -backup-out bench/backup.txt
	$(GO) run ./cmd/tessera-bench -migrate-only -migrate-out bench/migrate.txt
	$(GO) run ./cmd/tessera-bench -fleet-only -fleet-out bench/fleet.txt
	$(GO) test -run '^$$' -bench . -benchmem ./internal/platform/crypto ./internal/platform/idtoken ./internal/platform/memo ./internal/platform/metering ./internal/platform/tenant ./internal/local/throttle ./internal/platform/features ./internal/platform/invoice | tee bench/micro.txt

build: ## build the Lambda binaries (linux/arm64, lambda.norpc) into dist/
	@for f in $(FUNCTIONS); do \
	  echo "build $$f"; \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags '-s -w' -o dist/$$f/bootstrap ./functions/$$f; \
	done

synth: tools ## build the functions, synthesize the CDK app into cdk.out, refresh the TenantStack template, cfn-lint
	$(GO) run -C infra . -write-tenant-template internal/control/tenantstack/TenantStack.template.json
	$(CDK) synth --quiet --no-notices -c stage=$(STAGE)
	$(CFNLINT) --ignore-checks W3005 -- cdk.out/*.template.json

deploy: tools ## deploy stage STAGE to the AWS account in your environment (run `cdk bootstrap` once first)
	$(CDK) deploy --no-notices -c stage=$(STAGE) 'Tessera-$(STAGE)-*'

clean: ## remove build output and local state (keeps the installed tools)
	rm -rf dist cdk.out .local/log .local/env

localstack-up: ## start LocalStack with Docker (needs LOCALSTACK_AUTH_TOKEN); see localstack/
	@mkdir -p .local/bin/linux
	GOOS=linux CGO_ENABLED=0 $(GO) build -o .local/bin/linux/tessera ./cmd/tessera
	docker compose -f localstack/docker-compose.yml up -d --wait
	@echo "export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4566 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=123456789012 AWS_SECRET_ACCESS_KEY=test TESSERA_EMULATOR=localstack"

localstack-down: ## stop LocalStack
	docker compose -f localstack/docker-compose.yml down
