"""``python -m reference_app [--host H --port P]``: one replica, one uvicorn worker."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys

from reference_app.config import ConfigurationError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference_app",
                                     description="Reference LangChain RAG service (one replica); "
                                                 "configured by RAG_* variables, see README.md")
    parser.add_argument("--host", help="listen address (default RAG_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default RAG_PORT or 8000)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"reference_app: configuration error: {exc}", file=sys.stderr)
        return 2
    settings = dataclasses.replace(settings, host=args.host or settings.host,
                                   port=args.port or settings.port)
    import uvicorn

    from reference_app.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, workers=1,
                loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
                http="httptools" if importlib.util.find_spec("httptools") else "h11",
                access_log=False, log_level="warning", lifespan="on",
                timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
