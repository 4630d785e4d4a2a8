# lorad: the two commands.
#   make run   install what is missing, build release, serve the demo model
#   make test  install what is missing, build, run every test
SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := libopenblas-dev libsqlite3-dev pkg-config
BENCH_DIR ?= bench-models
BENCH_SHAPE ?= tinyllama-1.1b
BENCH_DTYPE ?= bf16

.PHONY: all deps build release run test bench clean

all: build

# Installs the Debian packages lorad links against, only those missing; `apt-get update` once, sudo only when not root.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "installing:$$missing"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Until the daemon API lands (`lorad serve`), `make run` builds release and runs one generation on the demo model.
run: release
	@echo "lorad: generating with the embedded demo model"
	.build/release/lorad run --model demo --prompt "The quick brown fox" --max-tokens 32

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

# Benchmarks (release build). The benchmark model is generated once into $(BENCH_DIR) (git-ignored).
bench: release
	@[ -f $(BENCH_DIR)/$(BENCH_SHAPE)-$(BENCH_DTYPE)/model.safetensors ] || \
		.build/release/lorad make-bench-model $(BENCH_DIR)/$(BENCH_SHAPE)-$(BENCH_DTYPE) --shape $(BENCH_SHAPE) --dtype $(BENCH_DTYPE)
	.build/release/lorad bench decode --model $(BENCH_DIR)/$(BENCH_SHAPE)-$(BENCH_DTYPE)

clean:
	rm -rf .build
