# mongoelector — build, test, demo, bench.
#   make            build the library (target/release) and regenerate include/mongoelector.h,
#                   and the mongoelector command (target/release/mongoelector, from cli/)
#   make test       start the test server, run every suite against it, stop it
#   make demo       the cross-language election and lock demo on the embedded server
#   make bench      benchmarks -> BENCHMARKS.md
#   make install PREFIX=/usr/local
SHELL := /bin/bash
PREFIX ?= /usr/local
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
MINOR := $(word 2,$(subst ., ,$(VERSION)))
# The soname's version: the ABI, which before 1.0 changes with every minor release.
ABI := $(if $(filter 0,$(MAJOR)),0.$(MINOR),$(MAJOR))
LIB := target/release/libmongoelector.so
BIN := target/release/mongoelector
export MONGOELECTOR_ROOT := $(CURDIR)

.PHONY: all lib test test-suites test-rust test-c test-go test-cpp test-python test-reliability test-tsan test-fuzz lint demo bench soak fuzz install clean

all: lib

lib:
	cargo build --release --workspace

# Runs every suite against one server; stops it even when a suite fails.
test: lib
	@uri=$$(scripts/test-server start) || exit 1; \
	echo "test server: $$uri"; \
	MONGOELECTOR_TEST_URI="$$uri" $(MAKE) --no-print-directory test-suites; rc=$$?; \
	scripts/test-server stop; exit $$rc

test-suites: lint test-rust test-c test-go test-cpp test-python test-reliability test-tsan test-fuzz

lint:
	cargo fmt --check
	cargo clippy --release --all-targets --workspace -- -D warnings
	git diff --exit-code -- include/ || { echo "include/mongoelector.h is stale: commit the regenerated header"; exit 1; }

# The library's suites and the command's (cli/tests, which spawn the real binary).
test-rust:
	cargo test --release --workspace -- --test-threads=4

test-c:
	tests/c/run.sh

test-go:
	bindings/go/test.sh

test-cpp:
	bindings/cpp/test.sh

test-python:
	bindings/python/test.sh

test-reliability:
	tests/reliability/test.sh

# The thread-sharing tests (Rust and C) under ThreadSanitizer.
test-tsan:
	tests/sanitizers/tsan.sh

# A short smoke of the C-ABI fuzz target under AddressSanitizer (`make fuzz` runs it longer).
FUZZ_SMOKE_SECONDS ?= 60
test-fuzz:
	fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

demo: lib
	demo/run.sh

bench: lib
	bench/run.sh

# Fuzzes random C-ABI call sequences with ASan for FUZZ_SECONDS.
FUZZ_SECONDS ?= 120
fuzz: lib
	fuzz/run.sh $(FUZZ_SECONDS)

soak: lib
	@uri=$$(scripts/test-server start) || exit 1; \
	export MONGOELECTOR_TEST_URI="$$uri" MONGOELECTOR_SOAK=1; \
	cargo test --release -- --ignored --test-threads=1 && tests/reliability/test.sh; rc=$$?; \
	scripts/test-server stop; exit $$rc

install: lib
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libmongoelector.so.$(VERSION)
	ln -sf libmongoelector.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libmongoelector.so.$(ABI)
	ln -sf libmongoelector.so.$(ABI) $(DESTDIR)$(PREFIX)/lib/libmongoelector.so
	install -m 0644 target/release/libmongoelector.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 include/mongoelector.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' packaging/mongoelector.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mongoelector.pc
	@if [ -d bindings/cpp ]; then $(MAKE) --no-print-directory -C bindings/cpp install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR); fi

clean:
	cargo clean
