"""Starts the MongoDB-wire stand-in (SecantusDB's `secantusd-py`) as a subprocess.

Only for machines without a MongoDB server. SecantusDB is GPL-2.0 and a dev dependency only.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_command() -> str | None:
    beside_python = Path(sys.executable).with_name("secantusd-py")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("secantusd-py")


@dataclass
class StandInMongo:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    owns_data_dir: bool

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def start_stand_in(
    data_dir: Path | None = None, port: int | None = None, timeout: float = 30.0
) -> StandInMongo:
    command = server_command()
    if command is None:
        raise RuntimeError(
            "no MongoDB available: MONGODB_URL is unset, no Docker engine answers, and the "
            "stand-in `secantusd-py` (PyPI SecantusDB==0.7.0b3, a dev dependency) is not "
            "installed — run `uv sync --locked`"
        )
    owns = data_dir is None
    directory = Path(tempfile.mkdtemp(prefix="gridloop-mongo-")) if data_dir is None else data_dir
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = directory.parent / f"{directory.name}.secantus.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                command,
                *("--host", "127.0.0.1", "--port", str(port), "--storage-path", str(directory)),
                # A standalone server, as compose runs MongoDB (docs/architecture.md, "Storage"): no
                # oplog is written, which the stand-in otherwise does for every changed document
                # (nothing here reads one: no change streams, no transactions).
                "--standalone",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"mongodb://127.0.0.1:{port}/?retryWrites=false"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"secantusd-py exited with {process.returncode}; see {log_path}:\n"
                + log_path.read_text(errors="replace")[-2000:]
            )
        try:
            client: MongoClient[dict[str, Any]]
            with MongoClient(url, serverSelectionTimeoutMS=500) as client:
                client.admin.command("ping")
            return StandInMongo(url, process, directory, log_path, owns)
        except PyMongoError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"secantusd-py did not answer on port {port} within {timeout}s")
