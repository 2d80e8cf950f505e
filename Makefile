# anki-submit: `make run` and `make test` are the only set-up a fresh Debian machine needs.
SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := pkg-config libsqlite3-dev libzstd-dev zlib1g-dev libpcre2-dev sqlite3 zstd unzip binutils
# What the tests need on top: the load test (wrk), HTTP checks (curl), the review page in a real browser,
# and nginx with a CA made by openssl in front of `research serve`.
TEST_APT_PACKAGES := wrk curl chromium chromium-driver python3-selenium python3-venv nginx openssl
# Python packages from PyPI for the tests and fixture scripts (the real Anki backend, genanki, ...).
VENV := .build/venv
PYTHON := $(VENV)/bin/python3
# make run: the review page when run from a terminal; REVIEW=none (or no terminal) for the scripted path.
REVIEW ?= auto
EXAMPLE_DECK ?= Tests/Fixtures/generated/berlin-latest.apkg
BENCH_DIR ?= bench-data
FUZZ_SECONDS ?= 300
# make dist: release (the participants' archive) or debug (the same link from the debug build, for the test).
CONFIG ?= release

.PHONY: all deps test-deps venv build dist run test bench bench-media bench-review bench-release bench-intake bench-dist fixtures fuzz fuzz-submissions clean

all: build

# Installs the system libraries the build links against, only when some are missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# Browser, driver and HTTP tools for `make test`, only when some are missing.
test-deps: deps
	@missing=""; for p in $(TEST_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing test packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The tests' Python packages, installed again only when Tests/requirements.txt changes.
venv: $(VENV)/.installed
$(VENV)/.installed: Tests/requirements.txt
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r Tests/requirements.txt
	@touch $@

build: deps
	$(SWIFT) build -c release --product anki-submit

# The participants' download: dist/anki-submit-<version>-linux-<arch>.tar.gz and .sha256, one executable
# with the Swift runtime, the C libraries and Config/ and Wordlists/ inside (needs only glibc).
dist: deps
	SWIFT=$(SWIFT) bash Packaging/dist.sh $(CONFIG)

# The participant's job on the example deck: what it is, then the review page (opens in the browser;
# "Create submission" writes out/example). Without a terminal (CI) or with REVIEW=none: the scripted path.
run: build
	.build/release/anki-submit inspect $(EXAMPLE_DECK)
	@if [ "$(REVIEW)" = page ] || { [ "$(REVIEW)" = auto ] && [ -t 0 ] && [ -t 1 ]; }; then \
	  echo "Starting the review page; press Ctrl-C in this terminal to stop without writing anything."; \
	  .build/release/anki-submit prepare $(EXAMPLE_DECK) --out out/example; \
	else \
	  echo "No terminal (or REVIEW=none): preparing without the review page."; \
	  .build/release/anki-submit prepare $(EXAMPLE_DECK) --review none --out out/example \
	    --timezone Europe/Berlin --language de --consent-public no --confirm-special-categories; \
	fi

# Products, not `--build-tests`: that builds every product of every dependency too, swift-protobuf's protoc
# (800 C++ files, minutes on two cores) included, which nothing here uses.
test: test-deps venv
	$(SWIFT) build --product anki-submit
	$(SWIFT) build --product AnkiSubmissionFuzz
	$(SWIFT) build --product anki-submitPackageTests
	$(SWIFT) test --skip-build
	SWIFT=$(SWIFT) bash Tests/Dist/run.sh

# Regenerates the small committed fixtures with the real Anki backend (needs PyPI access).
fixtures: venv
	$(PYTHON) Tests/Fixtures/make_fixtures.py --out Tests/Fixtures/generated
	$(PYTHON) Tests/Fixtures/make_fixtures.py --hostile --out Tests/Fixtures/hostile
	$(PYTHON) Tests/Fixtures/make_fixtures.py --review-html --out Tests/Fixtures/review

# Benchmarks: builds a large collection (not committed) and writes BENCHMARKS.md.
bench: build venv
	bash Tests/Benchmarks/run.sh $(BENCH_DIR)

# Media names (issue 15): prepare on a deck with 50,000 media names next to the same deck without media.
bench-media: build venv
	bash Tests/Benchmarks/media/run.sh $(BENCH_DIR)

# Researcher side (issue 6): ingest of 1,000 small and 5 large submissions next to the sqlite3 shell.
bench-research: build
	bash Tests/Benchmarks/research/run.sh $(BENCH_DIR)

# The release (issue 19): `research release` of the five large submissions next to pyarrow writing
# the same Parquet tables (needs `make bench-research` first for the inputs).
bench-release: build venv
	bash Tests/Benchmarks/release/run.sh $(BENCH_DIR)

# Intake (issue 18): upload of the large submission to `research serve` next to nginx alone, and 50 concurrent uploads.
bench-intake: build
	bash Tests/Benchmarks/intake/run.sh $(BENCH_DIR)

# Scanner (issue 4): quality on ../shared/pii-eval next to Presidio, throughput, large collection scan.
bench-scanner: deps
	bash Tests/Benchmarks/scanner/run.sh $(BENCH_DIR)

# Review page (issue 5) on the large collection: time until served, request times, peak memory.
bench-review: build
	bash Tests/Benchmarks/review/run.sh $(BENCH_DIR)

# The participants' archive (issue 22): its size and start-up against the development build.
bench-dist: deps
	SWIFT=$(SWIFT) bash Tests/Benchmarks/dist/run.sh

# Runs libFuzzer on the package reader for FUZZ_SECONDS, seeded with the committed corpus.
fuzz: deps
	bash Tests/Fuzz/run.sh $(FUZZ_SECONDS)

# Runs libFuzzer on strangers' submissions (audit and ingest) for FUZZ_SECONDS, from a submission that
# `prepare` makes first; new inputs go to Tests/Fixtures/fuzz-corpus-submissions, which `make test` replays.
fuzz-submissions: build
	bash Tests/Fuzz/run-submissions.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build .build-fuzz $(BENCH_DIR) dist
