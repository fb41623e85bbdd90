"""Local receivers for notify's channels: an HTTP sink counting per idempotency key, and SMTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http import HTTPStatus
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from gridloop_common.testing.secantus import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    status: int
    at: float

    @property
    def key(self) -> str:
        return self.headers.get("idempotency-key", "")

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.raw)
        return body


# Decides the answer to a request the sink has not accepted before: (status, extra headers).
Decide = Callable[[str, dict[str, Any]], tuple[int, dict[str, str]]]


def always_ok(_: str, __: dict[str, Any]) -> tuple[int, dict[str, str]]:
    return 200, {}


@dataclass
class HttpSink:
    """Behaves like a receiver that honours `Idempotency-Key`: a repeated key is answered like the
    first time and not counted again. It runs on the test's event loop, so it keeps up with
    thousands of requests without a thread per connection."""

    decide: Decide = always_ok
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    # key -> the body first accepted under it; an idempotent receiver acts on that one only.
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    repeats: Counter[str] = field(default_factory=Counter)
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def __aenter__(self) -> HttpSink:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def accepted_on(self, path: str) -> dict[str, dict[str, Any]]:
        return {key: body for key, body in self.accepted.items() if body.get("__path") == path}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request_line := await reader.readline():
                _, path, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, value = line.decode().split(":", 1)
                    headers[name.strip().lower()] = value.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                if self.delay:
                    await asyncio.sleep(self.delay)
                status, extra = self._answer(path, headers, raw)
                self.requests.append(Received(path, headers, raw, status, time.monotonic()))
                phrase = HTTPStatus(status).phrase
                more = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write(
                    f"HTTP/1.1 {status} {phrase}\r\n{more}Content-Length: 0\r\n\r\n".encode()
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # The sink is closing under an idle keep-alive connection: nothing is lost.
            pass
        finally:
            writer.close()

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str]]:
        key = headers.get("idempotency-key", "")
        if key and key in self.accepted:
            self.repeats[key] += 1
            return 200, {}
        body: dict[str, Any] = json.loads(raw or b"{}")
        status, extra = self.decide(path, body)
        if 200 <= status < 300 and key:
            self.accepted[key] = {**body, "__path": path}
        return status, extra


class _Collect:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self._sink.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(content, policy=policy.default))
        )
        return "250 Message accepted for delivery"


@dataclass
class SmtpSink:
    """aiosmtpd on a free port, collecting (recipients, message) pairs."""

    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    port: int = 0
    _controller: Controller | None = None

    def __enter__(self) -> SmtpSink:
        self.port = free_port()
        self._controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._controller is not None
        self._controller.stop()
