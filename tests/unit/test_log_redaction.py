"""No log level prints a credential: the wire loggers stay quiet unless named, and what is
printed is redacted (the values of the credential variables, headers, secret fields)."""

from __future__ import annotations

import logging

import pytest

from ops.telemetry.logs import REDACTED, WIRE_ENV, configure_logging

KEY_ID, SECRET, TOKEN = "ASIACANARY0123456789", "canary-secret-access-key-1", "canary-session-token-1"
# What botocore's endpoint logger prints at DEBUG for a signed request.
REQUEST = (
    "Sending http request: <AWSPreparedRequest method=POST, headers={'X-Amz-Security-Token': "
    f"b'{TOKEN}', 'Authorization': b'AWS4-HMAC-SHA256 Credential={KEY_ID}/20261201/us-east-1/ssm/"
    "aws4_request, SignedHeaders=host, Signature=0f0f'}>"
)


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    yield
    configure_logging("text", "WARNING")


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.delenv(WIRE_ENV, raising=False)


def test_at_debug_the_wire_loggers_stay_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "DEBUG")
    logging.getLogger("botocore.endpoint").debug(REQUEST)
    logging.getLogger("urllib3.connectionpool").debug("https://ssm:443 POST / 200")
    logging.getLogger("ops.local").debug("a debug line of the toolkit")
    err = capsys.readouterr().err
    assert "a debug line of the toolkit" in err and "Sending http request" not in err and "urllib3" not in err


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_wire_logs_asked_for_by_name_are_redacted(
    log_format: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(WIRE_ENV, "botocore")
    configure_logging(log_format, "DEBUG")  # type: ignore[arg-type]
    logging.getLogger("botocore.endpoint").debug(REQUEST)
    logging.getLogger("botocore.parsers").debug('Response body: b\'{"SecretString":"%s"}\'', "db-pass-1")
    logging.getLogger("ops").warning("connecting with password=%s", "hunter2-canary")
    err = capsys.readouterr().err
    assert "Sending http request" in err and REDACTED in err  # printed, redacted
    for secret in (KEY_ID, SECRET, TOKEN, "db-pass-1", "hunter2-canary"):
        assert secret not in err


def test_a_traceback_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("text", "WARNING")
    try:
        raise RuntimeError(f"signing failed with {SECRET}")
    except RuntimeError:
        logging.getLogger("ops").exception("request failed")
    err = capsys.readouterr().err
    assert "request failed" in err and "signing failed" in err and SECRET not in err
