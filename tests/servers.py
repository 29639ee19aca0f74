"""Local servers for tests: a free loopback port, a small HTTP server in the test's own event
loop, and the fake OpenAI-compatible AI judge the photo checks talk to."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def free_port() -> int:
    """A loopback port nobody listens on right now (for a server started in another process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def local_server(app: Starlette) -> AsyncIterator[str]:
    """Serves `app` until the block ends; yields its base URL (`http://127.0.0.1:<port>`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


# --------------------------------------------------------------------------- the AI judge


@dataclass
class FakeJudge:
    """What the fake OpenAI-compatible server answers next, and what it was asked."""

    mode: str = "yes"  # yes | no | malformed | slow | error
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Extra fields of the next answers (the proof-word fields, say).
    extra: dict[str, Any] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)


def _response(text: str) -> dict[str, Any]:
    return {
        "id": "resp_1", "object": "response", "created_at": 1_790_000_000,
        "model": "fake-model", "status": "completed", "parallel_tool_calls": False,
        "tool_choice": "auto", "tools": [],
        "output": [{
            "type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }],
    }  # fmt: skip


def judge_app(fake: FakeJudge) -> Starlette:
    """The Responses API (`POST /v1/responses`) answering as `fake` says."""

    async def responses(request: Request) -> Response:
        fake.requests.append(await request.json())
        if fake.mode == "slow":
            await fake.release.wait()
        if fake.mode == "error":
            return JSONResponse({"error": {"message": "overloaded", "type": "server"}}, 500)
        if fake.mode == "malformed":
            return JSONResponse(_response('{"verdict": "yes", "rea'))
        reason = "A lake path is visible." if fake.mode == "yes" else "It shows a desk indoors."
        answer = {"verdict": fake.mode, "reason": reason, **fake.extra}
        return JSONResponse(_response(json.dumps(answer)))

    return Starlette(routes=[Route("/v1/responses", responses, methods=["POST"])])
