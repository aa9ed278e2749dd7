# ociruntime developer targets.
#
#   make bundle                         build bundles/busybox (rootfs + config.json)
#   make bundle-demo                    same, process prints hostname/pid/mounts
#   make bench [RUNS=50] [CASES=run,state,...] [LOAD_SECONDS=60] [BENCH_JSON=bench/out/run.json]
#                                       ociruntime vs runc vs crun through hyperfine:
#                                       wall time and CPU per case, peak RSS, the
#                                       8-way load loop (containers/s), issue 16's
#                                       targets met or not; the table on stdout,
#                                       JSON, bench/out/bench.png and a copy in
#                                       docs/bench.png for the README (about 4.5 min
#                                       with the defaults; CASES=load for the loop
#                                       alone, CASES=run,state for a quick look)
#   make profile [CMDS=create,start,state,delete]
#                                       py-spy over many calls of each command:
#                                       where the time goes, by function
#   make fuzz [FUZZ_EXAMPLES=2000] [FUZZ_SEED=N] [FUZZ_RUNC=N]
#                                       the fuzz tests at length: FUZZ_EXAMPLES random
#                                       fuzzed configs through real containers, ten
#                                       times as many through the config loader; each
#                                       new problem, minimized, is saved as a case in
#                                       tests/fuzz_corpus/, which make test replays;
#                                       FUZZ_RUNC=N: N cases through runc too, and
#                                       where the two disagree
#                                       (2000: about 20 minutes on 2 shared cores)
#   make lint
#
# OCIRUNTIME is the command used for `spec` and as the runtime under test, e.g.
#   make bench OCIRUNTIME="python3 -m ociruntime"

PYTHON     ?= /usr/bin/python3
RUFF       ?= ruff
OCIRUNTIME ?= ociruntime
RUNS       ?= 50
BENCH_JSON ?= bench/out/run.json
BENCH_PNG  ?= bench/out/bench.png
# empty: every case (run,lifecycle,state,exec,parallel,features,rss,load)
CASES      ?=
# seconds of the load case per runtime (8 loops of create/start/wait/delete)
LOAD_SECONDS ?= 60
BUNDLE     ?= bundles/busybox
LINT_PATHS := ociruntime tests bench

.PHONY: all deps bundle bundle-demo bench profile lint install demo test fuzz

all: lint

bundle:
	OCIRUNTIME="$(OCIRUNTIME)" sh bundles/build-busybox.sh $(BUNDLE)

bundle-demo:
	OCIRUNTIME="$(OCIRUNTIME)" sh bundles/build-busybox.sh --demo $(BUNDLE)

profile:
	$(PYTHON) bench/profile.py --ociruntime "$(OCIRUNTIME)" $(if $(CMDS),--commands $(CMDS))

bench:
	$(PYTHON) bench/bench_run.py --ociruntime "$(OCIRUNTIME)" --runs $(RUNS) --with-crun \
		--load-seconds $(LOAD_SECONDS) $(if $(CASES),--cases $(CASES)) \
		--json $(BENCH_JSON) --png $(BENCH_PNG) --readme-png

lint:
	$(RUFF) check $(LINT_PATHS)
	$(RUFF) format --check $(LINT_PATHS)

# Debian packages: the runtime's Python and its libraries, the busybox rootfs,
# runc and crun (reference and benchmark peers), the official schemas, gcc
# (the static attacker probe of tests/integration/test_ptrace_escape.py);
# python3-jeepney (the oracle of tests/unit/test_dbuswire.py: the systemd
# driver speaks D-Bus with its own cgroups/dbuswire.py), and systemd and
# dbus, which the guest of `vm-run --systemd` boots from this host's root;
# criu and python3-protobuf (checkpoint and restore through CRIU's RPC, pycriu).
DEB_PACKAGES := make busybox-static runc crun iproute2 procps util-linux cpio podman containerd gcc libc6-dev time \
	python3 python3-pip python3-setuptools python3-prctl python3-pyroute2 python3-jeepney systemd dbus \
	python3-jsonschema python3-pytest python3-matplotlib python3-hypothesis \
	libseccomp2 libcap2 golang-github-opencontainers-specs-dev hyperfine tmux e2fsprogs \
	qemu-system-x86 linux-image-amd64 criu python3-protobuf
deps:
	@if [ "$$(dpkg-query -W -f='$${Status}\n' $(DEB_PACKAGES) 2>/dev/null | grep -c 'install ok installed')" -ne $(words $(DEB_PACKAGES)) ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES) >/dev/null; \
	fi
	@command -v py-spy >/dev/null || $(PYTHON) -m pip install --quiet --break-system-packages --root-user-action=ignore py-spy
	@$(PYTHON) -c "import mypy" 2>/dev/null || $(PYTHON) -m pip install --quiet --break-system-packages --root-user-action=ignore mypy

# Installs the package into Debian's python3 and replaces pip's console
# script with a launcher that runs the interpreter isolated (-I: no
# PYTHONPATH, no user site; -S: no site scan, the paths are fixed here),
# which is both safer for a root helper and ~5 ms faster per call.
PREFIX ?= /usr/local
install:
	$(PYTHON) -m pip install --quiet --break-system-packages --no-deps --no-build-isolation --force-reinstall --root-user-action=ignore .
	rm -rf build ociruntime.egg-info
	$(PYTHON) -X no_debug_ranges tools/write-launcher $(PREFIX)/bin/ociruntime

# The two commands of README: a container from the default bundle, and the tests.
demo: deps install
	OCIRUNTIME=$(PREFIX)/bin/ociruntime sh bundles/build-busybox.sh --demo $(BUNDLE)
	$(PREFIX)/bin/ociruntime run -b $(BUNDLE) demo-$$$$

test: install
	$(PYTHON) -m pytest -q -ra tests

FUZZ_EXAMPLES ?= 2000
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) FUZZ_RUNC=$(FUZZ_RUNC) $(PYTHON) -m pytest -q -s -ra \
		tests/unit/test_fuzz_config.py tests/integration/test_fuzz.py -k fuzzed
