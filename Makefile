# The two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint pytest pytest-pure docs conformance fuzz bench bench-tun bench-edge mutation system-deps clean

setup: $(STAMP) aionetstack/_accel.stamp

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=77" wheel
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Build the Cython core in place (the editable install may not); failure is not fatal.
aionetstack/_accel.stamp: aionetstack/_accel.pyx $(STAMP)
	$(PY) setup.py -q build_ext --inplace || echo "aionetstack: accelerator not built; pure Python in use"
	touch $@

# Debian tools the TUN tests use (nft for drop rules, ping, curl) and the SOCKS5 servers
# the gateway tests run (microsocks, Dante), hping3 for the SYN flood test, dig and dnsmasq
# for DNS through the gateway and the resolver tests, nsenter, wrk for bench_edge, redsocks (the
# kernel-based alternative bench_gateway compares the gateway with). Only as root,
# only if missing.
SYSTEM_TOOLS := nft:nftables ping:iputils-ping curl:curl tc:iproute2 microsocks:microsocks danted:dante-server hping3:hping3 dig:dnsutils dnsmasq:dnsmasq nsenter:util-linux wrk:wrk redsocks:redsocks
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
		command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
		echo "aionetstack: installing$$missing"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
		|| echo "aionetstack: could not install$$missing; tests that need them will skip"; \
	fi

demo: setup
	$(PY) -m aionetstack demo

lint: setup
	$(VENV)/bin/ruff check aionetstack tests benchmarks examples docs tools
	$(VENV)/bin/mypy --strict aionetstack tools

pytest: setup system-deps
	$(VENV)/bin/pytest -q -p no:cacheprovider

# The codec and checksum tests once more on the pure-Python fallback.
pytest-pure: setup
	AIONETSTACK_PURE_PYTHON=1 $(VENV)/bin/pytest -q -p no:cacheprovider tests/wire

# The API reference, from the docstrings (pdoc, dev extra), into build/docs;
# -W error: any pdoc warning fails the build.
docs: setup
	rm -rf build/docs
	$(PY) -W error docs/api.py build/docs

test: lint pytest pytest-pure docs

# The differential suite alone (also part of `pytest`): every scenario against
# Linux (in a private network namespace) and aionetstack, and the score. Root.
conformance: setup
	$(PY) -m tests.conformance

# Coverage-guided fuzzing of the engine's packet input with live connections
# (atheris, dev extra; hypothesis drives it where atheris is missing).
FUZZ_SECONDS ?= 60
fuzz: setup
	mkdir -p build/fuzz-corpus
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) tests/core/fuzz_engine.py build/fuzz-corpus \
		-artifact_prefix=build/fuzz-crash-

bench: setup
	$(PY) benchmarks/bench_wire.py
	$(PY) benchmarks/bench_sim.py
	$(PY) benchmarks/bench_aio.py

# Mutation testing of core/tcp/ against tests/core (tools/mutation.py; long: use a sample).
# MUTATE=aionetstack/core/tcp/rtt.py  MUTATION_SAMPLE=N  MUTATION_SEED  MUTATION_JOBS
# MUTATION_TIMEOUT  MUTATION_TESTS  MUTATION_COVERAGE=0 (see the script's docstring)
mutation: setup
	nice -n 19 $(PY) tools/mutation.py

# Needs root: runs itself inside a private network namespace (unshare --net).
bench-tun: setup
	$(PY) benchmarks/bench_tun.py

# SYN flood, wrk and memory, the stack beside the kernel (issue 11). Root, hping3 and wrk.
bench-edge: setup system-deps
	$(PY) benchmarks/bench_edge.py

clean:
	rm -rf $(VENV) build *.egg-info aionetstack/_accel.c aionetstack/*.so aionetstack/_accel.stamp
