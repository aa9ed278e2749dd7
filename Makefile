# ociruntime developer targets.
#
#   make bundle                         build bundles/busybox (rootfs + config.json)
#   make bundle-demo                    same, process prints hostname/pid/mounts
#   make bench [RUNS=50] [BENCH_JSON=bench/out/run.json]
#   make lint
#
# OCIRUNTIME is the command used for `spec` and as the runtime under test, e.g.
#   make bench OCIRUNTIME="python3 -m ociruntime"

PYTHON     ?= /usr/bin/python3
RUFF       ?= ruff
OCIRUNTIME ?= ociruntime
RUNS       ?= 50
BENCH_JSON ?= bench/out/run.json
BUNDLE     ?= bundles/busybox
LINT_PATHS := ociruntime tests bench

.PHONY: all bundle bundle-demo bench lint install demo test

all: lint

bundle:
	OCIRUNTIME="$(OCIRUNTIME)" sh bundles/build-busybox.sh $(BUNDLE)

bundle-demo:
	OCIRUNTIME="$(OCIRUNTIME)" sh bundles/build-busybox.sh --demo $(BUNDLE)

bench:
	$(PYTHON) bench/bench_run.py --ociruntime "$(OCIRUNTIME)" --runs $(RUNS) --with-crun --json $(BENCH_JSON)

lint:
	$(RUFF) check $(LINT_PATHS)
	$(RUFF) format --check $(LINT_PATHS)

# lead: install target (pip install of the package / console script)
install:
	@echo "install: not written yet (lead)"; exit 1

# lead: demo target
demo:
	@echo "demo: not written yet (lead)"; exit 1

# lead: test target (unit + integration)
test:
	@echo "test: not written yet (lead)"; exit 1
