# The toolkit's image: `ops` as the entrypoint, for drills on a schedule (ECS tasks of
# terraform/modules/drills, started by EventBridge Scheduler: `ops drill schedule`).
# Build from the repository root:  docker build -t <repository>:<tag> .
# No state is baked in: state goes to /tmp (a task volume), the drill's figures to CloudWatch.

# --- build: a wheel of the project (pyproject.toml) -----------------------------------------
FROM python:3.11.13-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ops ./ops
COPY runbooks ./runbooks
COPY alarms ./alarms
COPY dashboards ./dashboards
COPY adot ./adot
COPY loadtest ./loadtest
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# --- runtime: the wheel and its runtime dependencies, nothing to build with -----------------
FROM python:3.11.13-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    OPS_STATE_DIR=/tmp/platform-ops \
    OPS_INVENTORY=/etc/platform-ops/platform.yaml
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/*.whl \
    && rm -rf /tmp/dist \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /tmp --shell /usr/sbin/nologin ops
# The inventory is configuration, read-only; the environment is chosen by `--env`.
COPY platform.yaml /etc/platform-ops/platform.yaml
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["ops"]
CMD ["--help"]
