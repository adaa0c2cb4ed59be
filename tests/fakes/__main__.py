"""`python -m tests.fakes --port 8900`: the demo's fake Jira, ClickUp, GitHub and Azure DevOps on one port."""

from __future__ import annotations

import argparse

import uvicorn

from tests.fakes.demo import build_demo


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    app, _sources = build_demo()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
