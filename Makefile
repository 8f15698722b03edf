# yutang — two commands: `make run` starts the mall, `make test` runs every test.
SHELL := /bin/bash
GO    ?= go
BIN   := var/bin/yutang

.PHONY: run test bench gobench build vet lint check-env clean

# Start the whole mall. Without DATABASE_URL a private PostgreSQL is started
# under ./var/pg (and stopped again on Ctrl-C). In development without a
# merchant (YUTANG_WXPAY_MCHID) or YUTANG_WXPAY_SIM_URL, the WeChat Pay
# simulator runs beside it as its own process (`yutang wxpaysim`, state in
# ./var/wxpaysim) and is stopped with it. The environment passes through.
run: build
	@export YUTANG_ENV=$${YUTANG_ENV:-development}; \
	if [ "$$YUTANG_ENV" = development ] && [ -z "$$YUTANG_WXPAY_MCHID" ] && [ -z "$$YUTANG_WXPAY_SIM_URL" ]; then \
		./$(BIN) wxpaysim & sim=$$!; \
		trap 'kill $$sim 2>/dev/null; wait $$sim 2>/dev/null' EXIT; \
		trap 'exit 130' INT TERM; \
		export YUTANG_WXPAY_SIM_URL=http://$${YUTANG_WXPAYSIM_ADDR:-127.0.0.1:8091}; \
	fi; \
	./$(BIN) serve

build:
	@mkdir -p var/bin
	$(GO) build -o $(BIN) ./server

# Every test, with the race detector, against a throwaway PostgreSQL (or
# TEST_DATABASE_URL when set).
test:
	$(GO) run ./storage/pglocal/pgrun -- $(GO) test -race -count=1 ./...

# The load test (issue 18; README "Load tests"): a throwaway mall with the
# demo data, the server and its PostgreSQL pinned to CPU 0, the load tool
# (server/loadtest) on CPU 1; prints one table. BENCH_ARGS go to the load
# tool, e.g. make bench BENCH_ARGS='-ops list,checkout -d 20s'.
bench: build
	$(GO) build -o var/bin/loadtest ./server/loadtest
	$(GO) run ./server/loadtest/bench -yutang $(BIN) -loadtest var/bin/loadtest -- $(BENCH_ARGS)

# Go benchmarks against a throwaway PostgreSQL; BENCHTIME sets -benchtime.
gobench:
	$(GO) run ./storage/pglocal/pgrun -- $(GO) test -run '^$$' -bench . -benchtime $${BENCHTIME:-1x} -timeout 60m ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

clean:
	rm -rf var/bin
