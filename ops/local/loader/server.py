"""The loader's /health (JSON; 503 when Kafka or the database does not answer) and /metrics
(Prometheus), on 127.0.0.1: a standard-library server, one thread per request."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ops.local.loader.service import Loader


def serve(loader: Loader, port: int) -> ThreadingHTTPServer:
    """Start serving in a background thread; `shutdown()` the server to stop."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                healthy, body = loader.health()
                self._answer(200 if healthy else 503, "application/json", json.dumps(body).encode())
            elif path == "/metrics":
                self._answer(200, CONTENT_TYPE_LATEST, generate_latest(loader.metrics.registry))
            else:
                self._answer(404, "application/json", b'{"detail": "not found"}')

        def _answer(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """No access log: health checks would fill it."""

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
