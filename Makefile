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

# Serves the embedded demo model in the foreground with the demo adapters of adapters/ registered (Ctrl-C stops).
# The daemon prints its socket path and an example loractl command once it is ready.
run: release
	.build/release/lorad serve --model demo --register-adapters adapters $(SERVE_ARGS)

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
