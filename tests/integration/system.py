"""The five services as real OS processes on one isolated vhost, plus a local HTTP sink."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gridloop_common.services import service_url_variable
from gridloop_common.testing.fixtures import Isolated
from gridloop_common.testing.processes import SERVICES, ServiceProcess
from gridloop_common.testing.secantus import free_port


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class HttpSink:
    """Records every POST; stands in for a webhook receiver."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                sink.requests.append(
                    ReceivedRequest(self.path, dict(self.headers), json.loads(raw or b"{}"))
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class System:
    isolated: Isolated
    log_dir: Path
    env: dict[str, str]
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def service_env(self, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            **self.env,
            "RABBITMQ_URL": self.isolated.rabbitmq_url,
            "MONGODB_URL": self.isolated.mongodb_url,
            "MONGODB_DATABASE": self.isolated.database(name),
            **(extra or {}),
        }

    def start(self, names: Iterable[str], extra: dict[str, str] | None = None) -> None:
        ports = {name: free_port() for name in names}
        # Each service is told where the others are (the console calls scoring's and notify's
        # APIs): SCORING_URL, NOTIFY_URL, ...
        self.env.update(
            {service_url_variable(n): f"http://127.0.0.1:{p}" for n, p in ports.items()}
        )
        started = []
        for name, port in ports.items():
            process = ServiceProcess(
                name=name,
                env=self.service_env(name, extra),
                log_path=self.log_dir / f"{name}.log",
                port=port,
            )
            process.start()
            self.processes[name] = process
            started.append(process)
        for process in started:
            process.wait_ready()

    def url(self, name: str) -> str:
        return self.processes[name].base_url

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.stop()

    def logs(self) -> str:
        return "\n".join(
            f"----- {name} -----\n{process.log_tail()}" for name, process in self.processes.items()
        )


ALL_SERVICES = tuple(SERVICES)


# A real grid of the Ningguo registry (西津街道), for reports the tests file.
GRID = "grd-xijin-001-01"
