"""`python -m tests.fakes --port 8900`: the demo's fake Jira, ClickUp, GitHub and Azure DevOps on one port,
fake Slack and Teams webhooks under /chat (what they were sent: /chat/posts), and with `--smtp-port` an SMTP
catcher on loopback that writes every message to `--maildir`."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from tests.fakes import chat_webhooks
from tests.fakes.demo import build_demo
from tests.fakes.smtp import start_catcher


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=0, help="also run an SMTP catcher on this port")
    parser.add_argument("--maildir", type=Path, default=None, help="where the SMTP catcher writes .eml files")
    args = parser.parse_args()
    app, _sources = build_demo()
    app.mount("/chat", chat_webhooks.create_app())
    catcher = start_catcher(args.smtp_port, args.maildir) if args.smtp_port else None
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        if catcher is not None:
            catcher.controller.stop()


if __name__ == "__main__":
    main()
