# Set-up and the two jobs of the README. Each target creates the virtual environment
# (.venv) and installs the project when pyproject.toml changed since the last install.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

# checkov (Terraform static analysis) pins boto3 and botocore below ours: it gets its own
# environment, a tool beside the project rather than a library in it.
CHECKOV_VERSION := 3.3.30
CHECKOV := .tools/checkov/bin/checkov

# Apache Kafka (broker and MirrorMaker 2) from Maven Central, pinned by tools/kafka/pom.xml:
# copied once, and again only when the pin changes.
KAFKA := .tools/kafka/.built

# The OpenTelemetry Collector (ADOT's components that build here), pinned by
# adot/builder.yaml, built by the Collector Builder of the same release from Go modules.
OTELCOL := .tools/otelcol/.built
OTELCOL_BUILDER := go.opentelemetry.io/collector/cmd/builder@v0.165.0

.PHONY: demo test lint bench clean

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
test: lint $(CHECKOV) $(KAFKA) $(OTELCOL)
	$(VENV)/bin/pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache .hypothesis
