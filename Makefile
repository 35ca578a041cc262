# interstack: one command per job, each installing what it needs on a fresh Debian 12 (as root).
#
#   make test    lint + types + import layers + the whole pytest suite
#   make demo    serve a gateway, print the catalog, boot a server and ssh in, delete it all
#   make certify 2020.06 Compute against the embedded cloud (CERTIFY_ARGS=... for more)
#   make bench   token issue/validate throughput against the version document as the floor;
#                the aws backend's overhead over direct boto3 calls (both on moto)
#   make bench-compute   1,000 servers and 5,000 ports on sim, against moto's EC2 (BENCH_ARGS=...)
#   make bench-local     boot times and idle memory of real servers on the local backend
#
# Debian packages the tests and the gateway need. Later backends add theirs here
# (runc nftables dnsmasq debootstrap ...); `make deps` installs whichever are missing.
DEB_PACKAGES := python3 python3-venv postgresql
# the local backend's networking: bridges/netns/sysctl, firewall, DHCP/DNS; busybox's udhcpc
# is the DHCP client its tests run
DEB_PACKAGES += iproute2 procps nftables dnsmasq-base busybox
# the local backend's instances and images: the runtime, PID 1, the image build, disk images
DEB_PACKAGES += runc tini mmdebstrap qemu-utils util-linux e2fsprogs
# `make demo` logs in to the server it boots
DEB_PACKAGES += openssh-client
# Only the benchmark needs these.
BENCH_DEB_PACKAGES := wrk

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Rebuilt when the declared dependencies change; `make clean` forces a fresh one.
VENV_STAMP := $(VENV)/.interstack-installed

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

# Install the Debian packages in $(1) that are not installed yet; no apt-get update when none are.
define apt_install
	@missing=""; \
	for pkg in $(1); do \
		dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q "install ok installed" \
			|| missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		if [ "$$(id -u)" -ne 0 ]; then \
			echo "make: missing Debian packages:$$missing (run as root, or install them)" >&2; \
			exit 1; \
		fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq; \
		apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: deps bench-deps venv test lint demo bench certify clean

deps:
	$(call apt_install,$(DEB_PACKAGES))

bench-deps:
	$(call apt_install,$(DEB_PACKAGES) $(BENCH_DEB_PACKAGES))

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml scripts/install_openstack_collection.py
	@$(MAKE) --no-print-directory deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python scripts/install_openstack_collection.py
	touch $@

lint: venv
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy
	$(BIN)/lint-imports

test: deps lint
	$(BIN)/pytest -q

demo: deps venv
	$(BIN)/python scripts/demo.py

# 2020.06 OpenStack Powered Compute against the embedded cloud; CERTIFY_ARGS go to `certify`
certify: deps venv
	$(BIN)/python scripts/certify.py $(CERTIFY_ARGS)

bench: bench-deps venv
	$(BIN)/python benchmarks/tokens.py
	$(BIN)/python benchmarks/objects.py
	$(BIN)/python benchmarks/aws_gateway.py

# servers and ports on a sim region against moto's EC2 (RunInstances, DescribeInstances,
# CreateNetworkInterface, DescribeNetworkInterfaces; moto[server] comes with the test extra)
# in the same run; figures, no thresholds
.PHONY: bench-compute
bench-compute: venv
	$(BIN)/python benchmarks/compute.py $(BENCH_ARGS)

# real servers on a local region (root): boot p50 to ACTIVE and SSH, 20 at once, idle memory
.PHONY: bench-local
bench-local: deps venv
	$(BIN)/python benchmarks/local_boot.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache \
		.import_linter_cache benchmarks/results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
