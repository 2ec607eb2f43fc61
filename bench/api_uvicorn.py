"""The API app on plain uvicorn: bench.api's baseline for Ray Serve, in a process of its own
(so that neither the clients nor Ray share its interpreter).

``python -m bench.api_uvicorn --host H --port P``; the settings come from the environment
(``bench.api_http.server_env``). The app is the one each Serve replica builds
(``serve_app.build_http_app``), on uvicorn's defaults (uvloop and httptools when installed)
without an access log, as Serve's replica serves it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from runtime.settings import Settings
from serve_app import build_http_app

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_uvicorn")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        build_http_app(Settings()),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
