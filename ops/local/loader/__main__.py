"""`python -m ops.local.loader`: load until SIGTERM or SIGINT, then commit, close, exit 0."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from ops.errors import OpsError
from ops.local.loader.config import LoaderConfig
from ops.local.loader.server import serve
from ops.local.loader.service import Loader

log = logging.getLogger("ops.local.loader")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = LoaderConfig.from_environment()
    except OpsError as error:
        log.error("%s", error)
        return 2
    stop = threading.Event()

    def stop_on(signum: int, _: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, stop_on)
    signal.signal(signal.SIGINT, stop_on)
    loader = Loader(config)
    server = serve(loader, config.port)
    loader.start()
    log.info(
        "loading %s; /health and /metrics on 127.0.0.1:%d", [g.group for g in config.groups], config.port
    )
    while not stop.wait(0.5):
        pass
    loader.stop()
    server.shutdown()
    server.server_close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
