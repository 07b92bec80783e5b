# Tessera: the front door. `make help` lists the targets.
SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
PYTHON  ?= python3
NPM     ?= npm
MVN     ?= mvn
VENV    := .venv
BIN     := .local/bin
MOTO    := $(VENV)/bin/moto_server
CFNLINT := $(VENV)/bin/cfn-lint
LOCALKMS := $(BIN)/local-kms
IAMSIM  := tools/iamsim/node_modules/.installed
CDK     := tools/cdk/node_modules/.bin/cdk
DDBLOCAL_LIB := .local/dynamodb-local/lib
DDBLOCAL := $(DDBLOCAL_LIB)/.installed
STAGE   ?= dev
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
FUNCTIONS := $(notdir $(wildcard functions/*))

export GOFLAGS ?= -mod=readonly

.PHONY: help tools dynamodb-local run test unit bench build synth deploy lint clean localstack-up localstack-down

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

tools: $(VENV)/.installed $(LOCALKMS) $(IAMSIM) $(CDK) ## install the pinned tools: Go modules, .venv (moto, cfn-lint), local-kms, IAM simulator, CDK CLI
	@$(GO) mod download
	@cd infra && $(GO) mod download

$(IAMSIM): tools/iamsim/package-lock.json
	$(NPM) ci --prefix tools/iamsim --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(CDK): tools/cdk/package-lock.json
	$(NPM) ci --prefix tools/cdk --no-audit --no-fund --loglevel=error
	@touch $@

dynamodb-local: $(DDBLOCAL) ## install DynamoDB Local (pinned; needs Java 17+ and Maven), which the flood benchmark runs on

$(DDBLOCAL): tools/dynamodb-local/pom.xml
	@command -v java >/dev/null || { echo "the flood benchmark runs DynamoDB Local: install Java 17 or later"; exit 1; }
	rm -rf $(DDBLOCAL_LIB)
	$(MVN) -q -f tools/dynamodb-local/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(DDBLOCAL_LIB)
	@touch $@

$(LOCALKMS): go.mod go.sum
	@mkdir -p $(BIN)
	$(GO) build -o $@ github.com/nsmithuk/local-kms

run: tools ## start the local stack and serve the API with the demo tenants (Ctrl-C stops all)
	$(GO) run ./cmd/tessera up

test: tools lint ## everything, from a fresh clone: vet, staticcheck, unit and integration tests
	$(GO) test -count=1 ./...
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

bench: tools $(DDBLOCAL) ## isolation tax, STS/KMS calls, init, size, onboarding, metering overhead, flood on DynamoDB Local, token verification (bench/results.txt), then micro-benchmarks
	$(GO) run ./cmd/tessera-bench -out bench/results.txt -dynamodb-local $(DDBLOCAL_LIB)
	$(GO) test -run '^$$' -bench . -benchmem ./internal/platform/crypto ./internal/platform/idtoken ./internal/platform/memo ./internal/platform/metering ./internal/platform/tenant ./internal/local/throttle

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
	@echo "export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"

localstack-down: ## stop LocalStack
	docker compose -f localstack/docker-compose.yml down
