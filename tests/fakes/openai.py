"""A fake OpenAI-compatible server: POST /v1/chat/completions with the real response shape.

    state = FakeOpenAI(mode="ok")           # ok, slow, 500, malformed
    with serve(create_app(state)) as base_url:
        client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-test")
        state.mode = "slow"                 # switch while it runs
        state.requests                      # every JSON body received

* ok: a chat.completion whose message content is a JSON object with four
  insights written from the numbers in the user message;
* slow: waits `slow_seconds` before answering (to trip the client's timeout);
* 500: an OpenAI-style error body with HTTP 500;
* malformed: HTTP 200 whose message content is not JSON.
Requests without "Authorization: Bearer <key>" get a 401 like the real API.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.server import FaultControls, install_faults

MODES = ("ok", "slow", "500", "malformed")


@dataclass
class FakeOpenAI:
    mode: str = "ok"
    slow_seconds: float = 3.0
    api_key: str | None = None  # when set, the bearer token must match
    requests: list[dict[str, Any]] = field(default_factory=list)
    raw_bodies: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _insights_from(statistics: dict[str, Any]) -> dict[str, Any]:
    forecast = statistics.get("velocity_forecast") or {}
    flags = statistics.get("open_flags") or []
    developers = statistics.get("developers") or []
    p50, p85 = forecast.get("p50", 0), forecast.get("p85", 0)
    critical = sum(f.get("count", 0) for f in flags if f.get("severity") == "critical")
    return {
        "insights": [
            {"kind": "velocity_forecast", "title": f"Expect about {p50} points next sprint",
             "summary": f"The model expects {p50} points at P50 and {p85} at P85.",
             "analysis": "Based on resampled sprint velocity.", "actions": [f"Commit to {p85} points."]},
            {"kind": "developer_risk", "title": f"{len(developers)} developers analysed",
             "summary": "Load looks uneven across the team.", "analysis": "Compared points per developer.",
             "actions": ["Rebalance work in planning."]},
            {"kind": "team_optimisation", "title": "Shorten review waits",
             "summary": "First reviews could come sooner.", "analysis": "Review latency dominates cycle time.",
             "actions": ["Rotate a daily reviewer."]},
            {"kind": "compliance_risk", "title": f"{critical} critical flags open",
             "summary": "Critical DMT flags need attention.", "analysis": "Counts by rule were compared.",
             "actions": ["Link PRs before moving items to done."]},
        ]
    }


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 200, "total_tokens": 300},
    }


def create_app(state: FakeOpenAI, controls: FaultControls | None = None) -> FastAPI:
    app = FastAPI(title="fake OpenAI")
    if controls is not None:
        install_faults(app, controls)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "fake-gpt", "object": "model", "created": 0, "owned_by": "fake"}]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> JSONResponse | dict[str, Any]:
        raw = await request.body()
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or (state.api_key and auth[7:] != state.api_key):
            return JSONResponse(
                {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                           "param": None, "code": "invalid_api_key"}},
                status_code=401,
            )
        try:
            body = json.loads(raw)
        except ValueError:
            return JSONResponse({"error": {"message": "We could not parse the JSON body of your request.",
                                           "type": "invalid_request_error", "param": None, "code": None}},
                                status_code=400)
        with state.lock:
            state.requests.append(body)
            state.raw_bodies.append(raw)
        mode = state.mode
        if mode == "slow":
            await asyncio.sleep(state.slow_seconds)
        if mode == "500":
            return JSONResponse({"error": {"message": "The server had an error while processing your request.",
                                           "type": "server_error", "param": None, "code": None}},
                                status_code=500)
        model = body.get("model", "fake-gpt")
        if mode == "malformed":
            return _completion(model, "Sure! Here are some thoughts about your team (not JSON).")
        statistics: dict[str, Any] = {}
        for message in body.get("messages", []):
            if message.get("role") == "user":
                try:
                    statistics = json.loads(message.get("content") or "{}")
                except ValueError:
                    statistics = {}
        return _completion(model, json.dumps(_insights_from(statistics)))

    return app
