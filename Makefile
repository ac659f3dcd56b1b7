# OMFLOW in Go. `make run` starts a standalone server; `make test` runs every
# test (SQLite, PostgreSQL and MariaDB must be reachable: see README).
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS  := -s -w -X github.com/omflow/omflow/cli.Version=$(VERSION) -X github.com/omflow/omflow/cli.Commit=$(COMMIT)
export CGO_ENABLED ?= 0
export OMFLOW_TEST_DBS ?= sqlite,postgres,mysql

.PHONY: build run test vet fuzz bench screenshots proto clean

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o omflow .

run: build
	./omflow --role=server

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1)

test: vet
	$(GO) test -count=1 -timeout 20m ./...

# Each fuzz target for a short while (longer: FUZZTIME=5m make fuzz).
FUZZTIME ?= 15s
fuzz:
	@for t in $$($(GO) test -list 'Fuzz.*' ./... | grep -E '^(Fuzz|ok)' | awk '/^Fuzz/{f=f" "$$1} /^ok/{if(f!=""){print $$2":"f}; f=""}'); do \
		pkg=$${t%%:*}; for f in $${t#*:}; do \
			echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
		done; done

# Both benchmarks rewrite their own section of docs/BENCHMARKS.md. They need
# PostgreSQL like the tests; run them on a quiet machine.
bench: build
	$(GO) run ./bench/cmd/omflow-bench -binary $(CURDIR)/omflow -out docs/BENCHMARKS.md
	$(GO) run ./bench/cluster -binary $(CURDIR)/omflow -out docs/BENCHMARKS.md

# Japanese text needs CJK fonts in headless Chromium.
screenshots:
	@fc-list 2>/dev/null | grep -qi ipagothic || apt-get install -y -qq fonts-ipafont-gothic fonts-wqy-microhei
	OMFLOW_SCREENSHOTS=1 $(GO) test -count=1 -run Screenshots ./e2e/...

# Regenerates the committed gRPC code (needs protoc and the Go plugins).
proto:
	command -v protoc >/dev/null || apt-get install -y protobuf-compiler
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" $(GO) generate ./cluster/rpcpb

clean:
	rm -f omflow
