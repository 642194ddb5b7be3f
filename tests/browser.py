"""A headless Chromium driven over the DevTools protocol (CDP), for the tests that load the
toolkit's reports as a reader's browser would: console errors and uncaught exceptions are
collected, the DOM is queried with JavaScript, and the page is captured as a PNG.

Chromium runs with a fresh profile and every background fetch off (no sync, no component
update, no background networking); the reports it opens are files, so it reaches nothing."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websocket

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
START_TIMEOUT = 30.0
LOAD_TIMEOUT = 30.0


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Page:
    """One tab: what it logged, and calls to make in it."""

    socket: websocket.WebSocket
    errors: list[str] = field(default_factory=list)
    _next: int = 0

    def call(self, method: str, timeout: float = LOAD_TIMEOUT, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline, method)
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def wait_for(self, event: str, timeout: float = LOAD_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline, event)
            if message.get("method") == event:
                params: dict[str, Any] = message.get("params", {})
                return params

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {waiting_for} from Chromium")
        self.socket.settimeout(left)
        message: dict[str, Any] = json.loads(self.socket.recv())
        self._keep_error(message)
        return message

    def _keep_error(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            self.errors.append(str(params.get("exceptionDetails", {}).get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", []))
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(str(params["entry"].get("text")))

    def open(self, path: Path) -> None:
        """Load a file and wait for its load event."""
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """A JavaScript expression's value (JSON-able)."""
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails'].get('text')}")
        return answer["result"].get("value")

    def screenshot(self, width: int = 1200) -> bytes:
        """The whole page as a PNG, `width` CSS pixels wide."""
        self.call(
            "Emulation.setDeviceMetricsOverride", width=width, height=800, deviceScaleFactor=1, mobile=False
        )
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        shot = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": min(height, 6000), "scale": 1},
        )
        return base64.b64decode(shot["data"])


@contextlib.contextmanager
def browser() -> Iterator[Page]:
    """Chromium started with a fresh profile, one page ready; stopped after, whatever happened."""
    binary = chromium_binary()
    if binary is None:
        raise FileNotFoundError("chromium")
    # Chromium's helpers may still write to the profile as it goes: its removal is best effort.
    with tempfile.TemporaryDirectory(prefix="ops-chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: stopped whole, helpers included
        )
        try:
            port = _devtools_port(process)
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            (page_target,) = [t for t in targets if t.get("type") == "page"][:1]
            socket = websocket.create_connection(page_target["webSocketDebuggerUrl"], timeout=LOAD_TIMEOUT)
            page = Page(socket)
            for domain in ("Page", "Runtime", "Log"):
                page.call(f"{domain}.enable")
            try:
                yield page
            finally:
                socket.close()
        finally:
            _stop_group(process)


def _stop_group(process: subprocess.Popen[str]) -> None:
    """SIGTERM to Chromium's whole group, SIGKILL to what is left after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _devtools_port(process: subprocess.Popen[str]) -> int:
    """Chromium says where DevTools listens on its standard error, first thing."""
    assert process.stderr is not None
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        if "DevTools listening on ws://" in line:
            # Drained from now on: a full pipe would stop Chromium mid-page.
            threading.Thread(target=_drain, args=(process.stderr,), daemon=True).start()
            return int(line.split("ws://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    raise RuntimeError("Chromium did not start its DevTools endpoint")


def _drain(stream: Any) -> None:
    for _ in stream:
        pass


def is_blank(png: bytes) -> bool:
    """True when a PNG is one colour (a page that drew nothing)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        extrema = image.convert("L").getextrema()
    return bool(extrema[0] == extrema[1])
