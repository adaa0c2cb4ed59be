"""Fake Slack and Microsoft Teams incoming webhooks that record what they are sent.

    recorder = ChatRecorder()
    with serve(create_app(recorder)) as base_url:
        slack_url = base_url + SLACK_PATH          # a Slack incoming-webhook address
        teams_url = base_url + TEAMS_PATH          # a Teams (Workflows) webhook address
        recorder.fail_status = 500                 # every post answers 500 until reset to None
        recorder.controls.fail_next(2, status=503) # or only the next two (FaultControls)
        recorder.controls.rate_limit_next(1, retry_after=2)

Slack answers like Slack: 200 with the text `ok`; 400 `invalid_payload` for a body
with neither `text` nor `blocks`; 403 `invalid_token` for an unknown webhook
secret; 410 `channel_is_archived` for an archived channel. Teams answers 202 to a
`message` carrying an Adaptive Card attachment and 400 to anything else.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tests.fakes.server import FaultControls, install_faults

SLACK_SECRET = "xoxfake0000secret"
SLACK_PATH = f"/slack/services/T0DEMO/B0DEMO/{SLACK_SECRET}"
ARCHIVED_SLACK_PATH = "/slack/services/T0DEMO/B0ARCHIVED/archivedsecret0000"
TEAMS_SIG = "fakeTeamsSignature0000"
TEAMS_PATH = (
    f"/teams/workflows/0d3m0/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sig={TEAMS_SIG}"
)


@dataclass
class ChatPost:
    service: str  # slack or teams
    path: str
    body: Any
    status: int


@dataclass
class ChatRecorder:
    """Every post received (also the refused ones), and a persistent failure to answer with."""

    posts: list[ChatPost] = field(default_factory=list)
    fail_status: int | None = None
    controls: FaultControls = field(default_factory=FaultControls)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, post: ChatPost) -> None:
        with self.lock:
            self.posts.append(post)

    def accepted(self, service: str | None = None) -> list[ChatPost]:
        with self.lock:
            return [p for p in self.posts if p.status < 300 and (service is None or p.service == service)]


def _is_adaptive_card_message(body: Any) -> bool:
    if not isinstance(body, dict) or body.get("type") != "message":
        return False
    attachments = body.get("attachments")
    return (
        isinstance(attachments, list)
        and bool(attachments)
        and all(
            isinstance(a, dict)
            and a.get("contentType") == "application/vnd.microsoft.card.adaptive"
            and isinstance(a.get("content"), dict)
            and a["content"].get("type") == "AdaptiveCard"
            for a in attachments
        )
    )


def create_app(recorder: ChatRecorder | None = None) -> FastAPI:
    recorder = recorder or ChatRecorder()
    app = FastAPI(title="fake Slack and Teams incoming webhooks")
    install_faults(app, recorder.controls)
    app.state.recorder = recorder

    async def _body(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    @app.post("/slack/services/{team}/{bot}/{secret}")
    async def slack(team: str, bot: str, secret: str, request: Request) -> Response:
        body = await _body(request)
        if recorder.fail_status:
            status, answer = recorder.fail_status, "internal_error"
        elif bot == "B0ARCHIVED":
            status, answer = 410, "channel_is_archived"
        elif secret not in (SLACK_SECRET, "archivedsecret0000"):
            status, answer = 403, "invalid_token"
        elif not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            status, answer = 400, "invalid_payload"
        else:
            status, answer = 200, "ok"
        recorder.record(ChatPost("slack", request.url.path, body, status))
        return PlainTextResponse(answer, status_code=status)

    @app.post("/teams/workflows/{flow}/triggers/manual/paths/invoke")
    async def teams(flow: str, request: Request) -> Response:
        body = await _body(request)
        if recorder.fail_status:
            status = recorder.fail_status
        elif request.query_params.get("sig") != TEAMS_SIG:
            status = 401
        elif not _is_adaptive_card_message(body):
            status = 400
        else:
            status = 202
        recorder.record(ChatPost("teams", request.url.path, body, status))
        if status >= 400:
            return JSONResponse({"error": {"code": "BadRequest" if status == 400 else "Failed"}}, status_code=status)
        return Response(status_code=status)

    @app.get("/posts")
    def posts() -> list[dict[str, Any]]:
        """What was posted (the demo shows it)."""
        with recorder.lock:
            return [{"service": p.service, "status": p.status, "body": p.body} for p in recorder.posts[-100:]]

    return app
