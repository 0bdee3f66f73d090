# Tailor: the two commands are `make run` (install what is missing, fetch the default model, build, serve) and
# `make test` (the same set-up, then the Swift tests and the end-to-end tests with the official OpenAI SDK).

SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
HOST ?= 127.0.0.1
PORT ?= 8080
DATA ?= ./data
MODEL ?= models/SmolLM2-135M-Instruct.Q4_1.gguf
# One release build serves the binary and the tests (-enable-testing lets tests see internals without a second build).
SWIFT_FLAGS := -c release -Xswiftc -enable-testing
BIN := .build/release/tailor
VENV := .venv
DEBIAN_PACKAGES := libuv1-dev libsqlite3-dev libopenblas-dev libhttp-parser-dev python3-venv
TEST_PACKAGES := wrk chromium chromium-driver nginx openssl systemd

.PHONY: run test deps test-deps models vocab build build-tests venv check-closures unit e2e test-deploy test-service test-postgres test-cluster bench install \
	uninstall clean fuzz fuzz-build fuzz-smoke tsan

run: deps models build
	@mkdir -p $(DATA)
	$(BIN) serve --host $(HOST) --port $(PORT) --data $(DATA) --model $(MODEL)

test: deps test-deps models vocab build-tests venv check-closures unit e2e test-deploy

deps:
	@scripts/install-deps.sh $(DEBIAN_PACKAGES)

test-deps:
	@scripts/install-deps.sh $(TEST_PACKAGES)

models:
	@scripts/fetch-model.sh
	@scripts/fetch-gemma3.sh

vocab:
	@scripts/fetch-test-vocab.sh

build:
	swift build $(SWIFT_FLAGS) --product tailor

# The tests and the binary from one build with the same flags (`swift test` alone would rebuild the package).
build-tests:
	swift build $(SWIFT_FLAGS) --build-tests

venv:
	@scripts/make-venv.sh $(VENV) Tests/e2e/requirements.txt

# Swift 6.3 can give a closure inside #expect/#require's arguments and a later closure of the same type one symbol,
# so one runs the other's body and a test asserts something else than it says; this fails the run if any module has
# such a pair (and first checks that it catches the known case). About 30 s.
check-closures: build-tests
	scripts/check-closure-symbols.py --self-test

# Hard ceilings: a hang fails the run with a message instead of eating CI's budget (normal: unit ~5 min, e2e ~2 min).
unit: build-tests
	timeout -k 30 1800 swift test $(SWIFT_FLAGS) --skip-build

e2e: build venv
	TAILOR_BIN=$(abspath $(BIN)) TAILOR_MODEL=$(abspath $(MODEL)) timeout -k 30 1200 $(VENV)/bin/python -m pytest -q --timeout=300 Tests/e2e

# The store tests against PostgreSQL too (SQLite runs in `unit`): a throwaway cluster in a temporary directory,
# stopped and removed on exit whatever happens. Not part of `test`, which stays free of PostgreSQL.
test-postgres: build-tests
	@cluster=$$(mktemp -d /tmp/tailor-pg.XXXXXX); \
	trap 'scripts/pg-test-cluster.sh stop '"$$cluster" EXIT; \
	settings=$$(scripts/pg-test-cluster.sh start "$$cluster") || exit 1; \
	eval "$$settings"; \
	echo "PostgreSQL for the tests: $$TAILOR_TEST_DATABASE_URL"; \
	timeout -k 30 900 swift test $(SWIFT_FLAGS) --skip-build --filter TailorStoreTests || exit 1; \
	TAILOR_TEST_PG_CLUSTER=$$cluster timeout -k 30 300 swift test $(SWIFT_FLAGS) --skip-build --filter JobChangeRestartTests

# API nodes and workers as separate processes over one shared data directory and a throwaway PostgreSQL cluster, a
# database per file (each file's data directory is new, and a new directory beside a database with files is refused):
# Tests/e2e/test_roles.py (without PostgreSQL it runs over SQLite in `e2e`) and Tests/e2e/test_cluster.py (two API
# nodes, two workers, kill -9, PostgreSQL restarted; skipped without PostgreSQL). Every process reaches the database
# over TLS with sslmode=verify-full (the test CA, the server's name), as a cluster across hosts would. Not part of `test`.
test-cluster: build venv models
	@cluster=$$(mktemp -d /tmp/tailor-pg.XXXXXX); \
	trap 'scripts/pg-test-cluster.sh stop '"$$cluster" EXIT; \
	settings=$$(scripts/pg-test-cluster.sh start "$$cluster") || exit 1; \
	eval "$$settings"; \
	for suite in roles cluster; do \
		db=tailor_$${suite}_$$$$; \
		psql "$$TAILOR_TEST_DATABASE_URL" -qc "CREATE DATABASE $$db" || exit 1; \
		url=$${TAILOR_TEST_DATABASE_URL%/*}/$$db; \
		url="$${url/127.0.0.1/localhost}?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert=$$TAILOR_TEST_DATABASE_TLS/ca.pem"; \
		TAILOR_E2E_DATABASE_URL=$$url TAILOR_E2E_PG_CLUSTER=$$cluster \
			TAILOR_BIN=$(abspath $(BIN)) TAILOR_MODEL=$(abspath $(MODEL)) \
			timeout -k 30 1800 $(VENV)/bin/python -m pytest -q -rA --timeout=900 Tests/e2e/test_$$suite.py || exit 1; \
	done

bench: build
	scripts/bench.sh all

# The unit's ExecStart names PREFIX/bin/tailor; configuration (/etc/tailor) and data (/var/lib/tailor) are the
# administrator's, so neither target touches them.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/tailor
	mkdir -p $(DESTDIR)$(PREFIX)/share/tailor/Public
	cp -R Public/. $(DESTDIR)$(PREFIX)/share/tailor/Public/
	mkdir -p $(DESTDIR)/etc/systemd/system
	sed 's|^ExecStart=/usr/local/bin/tailor |ExecStart=$(PREFIX)/bin/tailor |' deploy/tailor.service \
		> $(DESTDIR)/etc/systemd/system/tailor.service
	sed 's|^ExecStart=/usr/local/bin/tailor |ExecStart=$(PREFIX)/bin/tailor |' deploy/tailor-worker.service \
		> $(DESTDIR)/etc/systemd/system/tailor-worker.service
	chmod 0644 $(DESTDIR)/etc/systemd/system/tailor.service $(DESTDIR)/etc/systemd/system/tailor-worker.service
	install -D -m 0644 deploy/tailor.env.example $(DESTDIR)$(PREFIX)/share/tailor/tailor.env.example
	install -D -m 0644 deploy/nginx.conf $(DESTDIR)$(PREFIX)/share/tailor/nginx.conf.example
	install -D -m 0644 deploy/worker.env.example $(DESTDIR)$(PREFIX)/share/tailor/worker.env.example

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tailor $(DESTDIR)/etc/systemd/system/tailor.service $(DESTDIR)/etc/systemd/system/tailor-worker.service
	rm -rf $(DESTDIR)$(PREFIX)/share/tailor
	@echo "kept /etc/tailor and /var/lib/tailor (settings, keys, data): remove them by hand if you mean to"

# The unit (systemd-analyze verify), the nginx example (nginx -t) and the env example, on a scratch install.
test-deploy: build
	timeout -k 10 300 Tests/deploy/verify.sh $(abspath $(BIN))

# The unit under a real systemd booted in a throwaway container: needs root; not part of `test`.
test-service: build models venv
	timeout -k 10 600 Tests/deploy/service.sh $(abspath $(BIN)) $(abspath $(MODEL))

# libFuzzer harnesses (Fuzz/, FUZZING.md): their own package and build folder, not part of `test`.
# TAILOR_FUZZ=1 keeps overflow and bounds checks in the release build (no -Ounchecked).
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= FuzzRequestParser FuzzHTTPServer FuzzMultipart FuzzAPIRequests FuzzTemplates FuzzTokenizer FuzzModelFiles
FUZZ_SWIFT_FLAGS := -c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -enable-testing \
	--scratch-path $(abspath .build-fuzz)

# The fuzz package pins the same dependency versions as the root one (both Package.resolved files are untracked).
fuzz-build:
	@if [ -f Package.resolved ] && [ ! -f Fuzz/Package.resolved ]; then cp Package.resolved Fuzz/Package.resolved; fi
	cd Fuzz && TAILOR_FUZZ=1 swift build $(FUZZ_SWIFT_FLAGS)

fuzz: deps fuzz-build
	Fuzz/run.sh run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: deps fuzz-build
	Fuzz/run.sh smoke $(FUZZ_TARGETS)

# ThreadSanitizer over every Swift test (a debug build of its own in .build-tsan, ~10 minutes of build and ~8 of
# tests on 2 cores): the first data race it reports stops the run with exit code 66. Not part of `test`.
tsan: deps models vocab
	swift build --build-tests --sanitize=thread --scratch-path $(abspath .build-tsan)
	TSAN_OPTIONS="halt_on_error=1 exitcode=66 $(TSAN_OPTIONS)" \
		swift test --skip-build --sanitize=thread --scratch-path $(abspath .build-tsan)

clean:
	rm -rf .build .build-fuzz .build-tsan
