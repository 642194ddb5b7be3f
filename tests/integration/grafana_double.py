"""A Grafana-compatible test server (a test double, listed in docs/testing.md): no Grafana
server can be installed here. It follows Grafana's documented HTTP API for what the toolkit
uses: bearer-token auth (401), folders, search, and dashboards by uid with Grafana's
save semantics: a save of an existing uid with overwrite off must carry the stored version
(else 412 `version-mismatch`), a new dashboard whose title is taken in its folder is refused
(412 `name-exists`), each save bumps the version and keeps the JSON as given."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ops.util.ports import free_port


class GrafanaDouble:
    def __init__(self, token: str) -> None:
        self.token = token
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}  # uid -> {"model", "folderUid", "version"}
        self.requests: list[tuple[str, str]] = []
        self.save_after_read: str | None = None  # a uid someone saves right after our next read
        self.next_id = 1
        self.app = self._build()

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def auth(request: Request, call_next: Any) -> Any:
            self.requests.append((request.method, request.url.path))
            if (
                request.url.path != "/api/health"
                and request.headers.get("authorization") != f"Bearer {self.token}"
            ):
                return JSONResponse({"message": "Unauthorized"}, status_code=401)
            return await call_next(request)

        @app.get("/api/health")
        def health() -> dict[str, str]:
            return {"database": "ok"}

        @app.get("/api/folders/{uid}")
        def get_folder(uid: str) -> Any:
            if uid not in self.folders:
                return JSONResponse({"message": "folder not found"}, status_code=404)
            return self.folders[uid]

        @app.post("/api/folders")
        async def create_folder(request: Request) -> Any:
            body = await request.json()
            uid = body.get("uid") or f"f{self.next_id}"
            if uid in self.folders:
                return JSONResponse({"message": "a folder with the same uid already exists"}, status_code=409)
            self.folders[uid] = {"id": self._id(), "uid": uid, "title": body["title"]}
            return self.folders[uid]

        @app.get("/api/search")
        def search(request: Request) -> list[dict[str, Any]]:
            folders = request.query_params.getlist("folderUIDs")
            return [
                {
                    "uid": uid,
                    "title": d["model"].get("title"),
                    "type": "dash-db",
                    "folderUid": d["folderUid"],
                    "tags": d["model"].get("tags", []),
                }
                for uid, d in sorted(self.dashboards.items())
                if not folders or d["folderUid"] in folders
            ]

        @app.get("/api/dashboards/uid/{uid}")
        def get_dashboard(uid: str) -> Any:
            if uid not in self.dashboards:
                return JSONResponse({"message": "Dashboard not found"}, status_code=404)
            stored = self.dashboards[uid]
            answer = {
                "dashboard": copy.deepcopy(stored["model"]),
                "meta": {"folderUid": stored["folderUid"], "version": stored["version"], "slug": uid},
            }
            if self.save_after_read == uid:  # someone saves in the UI right after our read
                self.save_after_read = None
                self.save(
                    {**stored["model"], "version": stored["version"]}, stored["folderUid"], overwrite=True
                )
            return answer

        @app.post("/api/dashboards/db")
        async def save(request: Request) -> Any:
            body = await request.json()
            return self.save(body["dashboard"], body.get("folderUid", ""), bool(body.get("overwrite")))

        @app.delete("/api/dashboards/uid/{uid}")
        def delete(uid: str) -> Any:
            stored = self.dashboards.pop(uid, None)
            if stored is None:
                return JSONResponse({"message": "Dashboard not found"}, status_code=404)
            return {
                "title": stored["model"].get("title"),
                "message": "Dashboard deleted",
                "id": stored["model"]["id"],
            }

        return app

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def save(self, model: dict[str, Any], folder: str, overwrite: bool) -> Any:
        uid = model.get("uid") or f"d{self._id()}"
        existing = self.dashboards.get(uid)
        if existing is not None and not overwrite and model.get("version") != existing["version"]:
            return JSONResponse(
                {"status": "version-mismatch", "message": "The dashboard has been changed by someone else"},
                status_code=412,
            )
        if existing is None and not overwrite:
            for other in self.dashboards.values():
                if other["folderUid"] == folder and other["model"].get("title") == model.get("title"):
                    return JSONResponse(
                        {
                            "status": "name-exists",
                            "message": "A dashboard with the same name in the folder already exists",
                        },
                        status_code=412,
                    )
        version = (existing["version"] if existing else 0) + 1
        stored = {
            **copy.deepcopy(model),
            "uid": uid,
            "version": version,
            "id": existing["model"]["id"] if existing else self._id(),
        }
        self.dashboards[uid] = {"model": stored, "folderUid": folder, "version": version}
        return {"id": stored["id"], "uid": uid, "url": f"/d/{uid}", "status": "success", "version": version}


@contextmanager
def grafana_double(token: str) -> Iterator[tuple[GrafanaDouble, str]]:
    """The double served on a free loopback port, for the length of the block."""
    double = GrafanaDouble(token)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(double.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the Grafana test double did not start")
        time.sleep(0.05)
    try:
        yield double, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
