"""A real SMTP server on loopback that keeps what it is sent (aiosmtpd), for the tests and the demo.

    with smtp_catcher() as catcher:           # 127.0.0.1, a free port
        ...SMTP_HOST=127.0.0.1, SMTP_PORT=catcher.port, SMTP_STARTTLS=false...
        catcher.wait_for(1)                    # the messages, parsed (email.message.EmailMessage)
        catcher.refuse_recipients.add("gone@example.com")   # 550 at RCPT TO
        catcher.temporary_failures = 2         # the next two messages get 451 at DATA

`python -m tests.fakes.smtp --port 8925 --maildir DIR` runs one and writes every
message to DIR as an .eml file (the demo's mail catcher).
"""

from __future__ import annotations

import argparse
import contextlib
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.fakes.server import free_port
from tests.waiting import wait_until


class CatchingHandler:
    """aiosmtpd handler: refuses listed recipients (550), fails a number of messages (451), keeps the rest."""

    def __init__(self, maildir: Path | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse_recipients: set[str] = set()
        self.temporary_failures = 0
        self.maildir = maildir
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if address.lower() in self.refuse_recipients:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.temporary_failures > 0:
                self.temporary_failures -= 1
                return "451 4.3.0 try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            if self.maildir is not None:
                self.maildir.mkdir(parents=True, exist_ok=True)
                name = f"{time.strftime('%Y%m%d-%H%M%S')}-{len(self.messages):05d}.eml"
                (self.maildir / name).write_bytes(envelope.content)
        return "250 Message accepted for delivery"


class SmtpCatcher:
    def __init__(self, controller: Controller, handler: CatchingHandler, port: int) -> None:
        self.controller = controller
        self.handler = handler
        self.host = "127.0.0.1"
        self.port = port

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    @property
    def refuse_recipients(self) -> set[str]:
        return self.handler.refuse_recipients

    @property
    def temporary_failures(self) -> int:
        return self.handler.temporary_failures

    @temporary_failures.setter
    def temporary_failures(self, value: int) -> None:
        with self.handler.lock:
            self.handler.temporary_failures = value

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """The messages once at least `count` arrived; AssertionError after `timeout` seconds."""
        wait_until(
            lambda: len(self.messages) >= count,
            timeout=timeout,
            what=lambda: f"{count} email(s); the SMTP server got {len(self.messages)}",
        )
        return self.messages


def start_catcher(port: int | None = None, maildir: Path | None = None) -> SmtpCatcher:
    """Start a catcher on 127.0.0.1 (a free port unless given); stop it with `catcher.controller.stop()`."""
    handler = CatchingHandler(maildir)
    port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    return SmtpCatcher(controller, handler, port)


@contextlib.contextmanager
def smtp_catcher(maildir: Path | None = None) -> Iterator[SmtpCatcher]:
    catcher = start_catcher(maildir=maildir)
    try:
        yield catcher
    finally:
        catcher.controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.smtp")
    parser.add_argument("--port", type=int, default=8925)
    parser.add_argument("--maildir", type=Path, default=None)
    args = parser.parse_args()
    catcher = start_catcher(args.port, args.maildir)
    print(f"SMTP catcher on 127.0.0.1:{catcher.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        catcher.controller.stop()


if __name__ == "__main__":
    main()
