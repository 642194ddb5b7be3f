"""The `ops` entry point: global options, sub-commands, and one-line errors with exit codes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

# typer carries its own copy of click (typer._click): its usage errors are caught by class.
from typer._click import exceptions as click_errors

from ops import __version__
from ops.aws.clients import AwsTarget
from ops.cli import (
    adot_cmd,
    demo_cmd,
    dr_cmd,
    drill_cmd,
    inventory_cmd,
    loadtest_cmd,
    local_cmd,
    observe_cmd,
    runbook_cmd,
)
from ops.cli.context import CliContext
from ops.cli.interrupts import interrupts_raise
from ops.cli.output import console, print_error
from ops.errors import ExitCode, Interrupted, OpsError
from ops.telemetry import tracing
from ops.telemetry.logs import LogFormat, configure_logging
from ops.telemetry.metrics import record_command, setup_metrics, shutdown_metrics
from ops.telemetry.tracing import setup_tracing, shutdown_tracing

app = typer.Typer(
    name="ops",
    help="platform-ops: observability as code, DR runbooks and load-test campaigns.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(inventory_cmd.app, name="inventory")
app.add_typer(local_cmd.app, name="local")
app.add_typer(observe_cmd.app, name="observe")
app.add_typer(runbook_cmd.app, name="runbook")
app.add_typer(drill_cmd.app, name="drill")
app.add_typer(dr_cmd.app, name="dr")
app.add_typer(loadtest_cmd.app, name="loadtest")
app.add_typer(adot_cmd.app, name="adot")
app.command(name="demo")(demo_cmd.demo)


def _version(value: bool) -> None:
    if value:
        console.print(f"platform-ops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    inventory: Path | None = typer.Option(
        None, "--inventory", envvar="OPS_INVENTORY", help="The inventory file (default: platform.yaml)."
    ),
    state_dir: Path | None = typer.Option(
        None,
        "--state-dir",
        envvar="OPS_STATE_DIR",
        help="Where the local platform keeps its state.",
    ),
    profile: str | None = typer.Option(None, "--profile", help="AWS profile (else AWS_PROFILE)."),
    region: str | None = typer.Option(None, "--region", help="AWS region (else the inventory's)."),
    endpoint_url: str | None = typer.Option(
        None, "--endpoint-url", envvar="OPS_AWS_ENDPOINT_URL", help="Send every AWS call here."
    ),
    log_format: str = typer.Option("text", "--log-format", help="text or json."),
    log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning, error."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    if log_format not in ("text", "json"):
        raise typer.BadParameter(f"{log_format!r}: use text or json", param_hint="--log-format")
    level: LogFormat = "json" if log_format == "json" else "text"
    if log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise typer.BadParameter(
            f"{log_level!r}: use debug, info, warning or error", param_hint="--log-level"
        )
    if region is not None:
        from ops.util.regions import region_problem

        problem = region_problem(region)
        if problem:
            raise typer.BadParameter(problem, param_hint="--region")
    configure_logging(level, log_level)
    if level == "json":
        setup_tracing(trace_ids=True)  # the log lines carry the command's trace id
    ctx.obj = CliContext(inventory, state_dir, AwsTarget(profile, region, endpoint_url))


def main() -> None:
    """Run the CLI; every failure is a one-line message and a documented exit code."""
    setup_tracing()
    setup_metrics()
    # SIGINT and SIGTERM both end a command the same way, with exit code 130 (click
    # would turn Ctrl-C into "Aborted!" and exit 1).
    with interrupts_raise():
        started = time.monotonic()
        tracing.current_command = None
        exit_code = int(ExitCode.FAILURE)  # unless the command ends (an unexpected error does not)
        try:
            _run()
            exit_code = int(ExitCode.SUCCESS)
        except SystemExit as stop:  # click ends every command with one, success included
            exit_code = stop.code if isinstance(stop.code, int) else int(ExitCode.FAILURE)
            raise
        finally:
            if tracing.current_command is not None:
                record_command(tracing.current_command, time.monotonic() - started, exit_code)
            shutdown_metrics()
            shutdown_tracing()


def _run() -> None:
    """The command, its errors turned into one line and an exit code (SystemExit)."""
    try:
        # Not standalone: click's usage errors come here, to be one line like every other.
        result = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as error:
        console.print(error.ctx.get_help() if error.ctx else "")
        sys.exit(ExitCode.BAD_INPUT)
    except click_errors.UsageError as error:
        where = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
        print_error(" ".join(error.format_message().split()) + where)
        sys.exit(ExitCode.BAD_INPUT)
    except click_errors.ClickException as error:
        print_error(" ".join(error.format_message().split()))
        sys.exit(error.exit_code)
    except typer.Abort:  # click's own Ctrl-C at a prompt
        print_error("interrupted")
        sys.exit(ExitCode.INTERRUPTED)
    except OpsError as error:
        print_error(str(error))
        sys.exit(error.exit_code)
    except (Interrupted, KeyboardInterrupt):
        print_error("interrupted")
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as error:
        failure = _aws_failure(error)
        if failure is None:
            raise
        print_error(failure[0])
        sys.exit(failure[1])
    sys.exit(result if isinstance(result, int) else ExitCode.SUCCESS)


def _aws_failure(error: Exception) -> tuple[str, ExitCode] | None:
    """The message and exit code of an AWS error, None for any other error. botocore is
    imported here, not at start-up (it costs every command a fifth of a second); when no
    command has loaded it, the error cannot be one of its exceptions."""
    if "botocore.exceptions" not in sys.modules:
        return None
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    if isinstance(error, NoCredentialsError | NoRegionError | ProfileNotFound):
        message = f"AWS configuration: {error}; set --profile/--region or AWS_PROFILE/AWS_REGION"
        return message, ExitCode.BAD_INPUT
    if isinstance(error, ClientError):
        import re

        info = error.response.get("Error", {})
        code, text = info.get("Code"), " ".join(str(info.get("Message")).split())  # one line
        # The emulator answers a denied JSON-protocol call (SSM, DynamoDB...) with an XML
        # body botocore cannot parse: its code and message are inside.
        inner = re.search(r"<Code>(\w+)</Code><Message>(.*?)</Message>", text)
        if inner:
            code, text = inner.groups()
        if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"):
            # Name the IAM action the credentials lack, as AWS's message says it
            # ("not authorized to perform: rds:DeleteDBInstance"), else by the operation.
            said = re.search(r"perform: ([\w-]+:\w+)", text)
            action = said.group(1) if said else f"the permission for {error.operation_name}"
            message = f"AWS {error.operation_name} denied: the credentials lack {action} ({code}: {text})"
            return message, ExitCode.FAILURE
        return f"AWS {error.operation_name} failed: {code}: {text}", ExitCode.FAILURE
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach AWS: {error}", ExitCode.FAILURE
    return None


if __name__ == "__main__":
    main()
