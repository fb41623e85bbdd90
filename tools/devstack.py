"""`make up`: the MongoDB(-wire stand-in), the five services and the console, logs prefixed.

Uses RabbitMQ from RABBITMQ_URL (default: the local broker) and MongoDB from MONGODB_URL; when
MONGODB_URL is unset it starts the SecantusDB stand-in with its data under `.data/mongo`.
Before the services start, `gridloop-dispatch provision-departments` gives every department its
broker user and API key, the city center a monitor user, and every service its own broker user
(development passwords, overridable through DEPARTMENT_*, MONITOR_* and SERVICE_* variables);
RABBITMQ_URL is the administrator's, which only provisioning uses.
A service that dies is restarted after a back-off (1 s, 2 s, 4 s ... 30 s, as compose's
`restart: unless-stopped`), and the launcher says so. Ctrl-C (or SIGTERM) stops every service
cleanly, then the stand-in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from gridloop_common.api_keys import DEVELOPMENT_CHANNEL_KEY_ENV
from gridloop_common.broker_urls import url_as
from gridloop_common.services import service_url_variable
from gridloop_common.testing.processes import SERVICES
from gridloop_common.testing.secantus import StandInMongo, start_stand_in
from gridloop_common.testing.supervisor import Program, Supervisor, python_module

ROOT = Path(__file__).resolve().parent.parent
# Development defaults a city operator can override from the environment.
DEV_DEFAULTS = {
    "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/",
    "LOG_FORMAT": "console",
    "GRIDLOOP_OPEN311_API_KEYS": "dev-open311-key",
    # The simulator (make demo, a load test) posts with that key: no rate limit for it.
    "INTAKE_RATE_LIMIT_EXEMPT_KEYS": "dev-open311-key",
    # The systems posting for intake's chat-group, patrol and hotline channels.
    **DEVELOPMENT_CHANNEL_KEY_ENV,
    # The center's key, X-Api-Key: dispatch's case reads and operations, notify's notices and
    # subscriptions.
    "OPERATOR_API_KEY": "dev-operator-key",
    # The read-only viewer's key (a wall screen): reads what the operator reads, acts on nothing.
    "VIEWER_API_KEY": "dev-viewer-key",
    # Every department's broker user <code> gets password dev-<code>, and HTTP API key
    # <code>.dev-<code> (see services/dispatch/README.md); production takes them from secrets.
    "DEPARTMENT_PASSWORD_TEMPLATE": "dev-{code}",
    "DEPARTMENT_API_KEY_TEMPLATE": "dev-{code}",
    # A monitor account for the city's supervision center: broker user monitor-city-center,
    # password dev-city-center; its queues are monitor.city-center.*, bound under sla.* only.
    "MONITOR_NAMES": "city-center",
    "MONITOR_PASSWORD_TEMPLATE": "dev-{code}",
    # Each service runs as its own broker user gridloop-<service>, password dev-<service>: its
    # own queues, and only its own contracts' routing keys (docs/security.md).
    "BROKER_SERVICES": "all",
    "SERVICE_PASSWORD_TEMPLATE": "dev-{code}",
}


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _provision_accounts(env: dict[str, str]) -> bool:
    """One least-privilege broker user per service, department and monitor, and an API key per
    department, before the services start. RABBITMQ_URL is the administrator's here."""
    done = subprocess.run(
        [sys.executable, "-m", "gridloop_dispatch", "provision-departments"],
        env={**env, "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        # The rest of the system runs without them; departments just cannot log in yet.
        _say(f"[devstack] provisioning failed: {done.stderr.strip()}")
        return False
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    _say(
        f"[devstack] {summary}: broker user <code> / password dev-<code>, "
        "HTTP key <code>.dev-<code>; monitor monitor-city-center / dev-city-center; "
        "operator key dev-operator-key; service gridloop-<service> / dev-<service>"
    )
    return True


def _service_rabbitmq_url(env: dict[str, str], service: str, provisioned: bool) -> str:
    if not provisioned:
        # Without its own user a service would not start at all; say it runs as the admin.
        _say(f"[devstack] {service} uses RABBITMQ_URL's user: its own could not be provisioned")
        return env["RABBITMQ_URL"]
    password = env["SERVICE_PASSWORD_TEMPLATE"].format(code=service)
    user = f"{env.get('DEPARTMENT_USER_PREFIX', '')}gridloop-{service}"
    return url_as(env["RABBITMQ_URL"], user, password)


def main() -> int:
    env = {**DEV_DEFAULTS, **os.environ}
    stand_in: StandInMongo | None = None
    if "MONGODB_URL" not in os.environ:
        stand_in = start_stand_in(data_dir=ROOT / ".data" / "mongo", port=27017)
        env["MONGODB_URL"] = stand_in.url
        _say(f"[devstack] MongoDB-wire stand-in at {stand_in.url} (data in .data/mongo)")
    provisioned = _provision_accounts(env)
    # Like compose's `restart: unless-stopped`: a service that dies comes back after a back-off.
    supervisor = Supervisor(lambda text: _say(f"[devstack] {text}"))
    # INTAKE_PORT, SLA_MONITOR_PORT, ... move one service off its default port; each service is
    # told where the others are (INTAKE_URL, SCORING_URL, ...: the console calls their APIs).
    ports = {
        name: env.get(f"{name.upper().replace('-', '_')}_PORT", str(default_port))
        for name, (_, default_port) in SERVICES.items()
    }
    for name, port in ports.items():
        env.setdefault(service_url_variable(name), f"http://127.0.0.1:{port}")
    for name, (module, _) in SERVICES.items():
        port = ports[name]
        rabbit = _service_rabbitmq_url(env, name, provisioned)
        program_env = {**env, "HTTP_PORT": port, "RABBITMQ_URL": rabbit}
        supervisor.add(Program(name, python_module(module), program_env))
        supervisor.start(name)
        _say(f"[devstack] {name:<11} http://127.0.0.1:{port}  (docs: /docs)")
    _say("[devstack] RabbitMQ management: http://127.0.0.1:15672 (guest/guest); Ctrl-C stops")

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        while not stopping.wait(0.5):
            supervisor.poll()
    except KeyboardInterrupt:
        pass
    # A second Ctrl-C (or uv forwarding the first) must not cut the clean shutdown short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _say("[devstack] stopping: SIGTERM to every service, waiting for them to drain")
    supervisor.stop_all(timeout=30)
    if stand_in is not None:
        stand_in.stop()
    _say("[devstack] stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
