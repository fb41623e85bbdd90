"""docker-compose.yml, Dockerfile and .dockerignore agree with the services' own settings and names.

No Docker needed: the files are parsed and compared with each service's settings class, so a
renamed setting or a changed default port fails here instead of in a container.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from gridloop_common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# compose service name → settings class (module, class name)
SERVICES: dict[str, tuple[str, str]] = {
    "intake": ("gridloop_intake.settings", "IntakeSettings"),
    "dispatch": ("gridloop_dispatch.settings", "DispatchSettings"),
    "sla-monitor": ("gridloop_sla_monitor.settings", "SlaMonitorSettings"),
    "scoring": ("gridloop_scoring.settings", "ScoringSettings"),
    "notify": ("gridloop_notify.settings", "NotifySettings"),
    "console": ("gridloop_console.settings", "ConsoleSettings"),
}
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


# --- helpers ------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def _service(name: str) -> dict[str, Any]:
    services = _compose().get("services", {})
    assert name in services, f"docker-compose.yml has no service {name!r} (has {sorted(services)})"
    service: dict[str, Any] = services[name]
    return service


def _settings_class(service: str) -> type[ServiceSettings]:
    module_name, class_name = SERVICES[service]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        pytest.fail(f"{service}: cannot import {module_name} ({error}); is the service written?")
    settings_class = getattr(module, class_name, None)
    if not (isinstance(settings_class, type) and issubclass(settings_class, ServiceSettings)):
        pytest.fail(f"{service}: {module_name}.{class_name} is not a ServiceSettings subclass")
    return settings_class


def _env_names(settings_class: type[BaseSettings]) -> dict[str, str]:
    """Upper-cased environment name → field name, as pydantic-settings reads them."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    names = {}
    for field_name, info in settings_class.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else None
        names[(alias or prefix + field_name).upper()] = field_name
    return names


def _clean_environment(monkeypatch: pytest.MonkeyPatch, settings_class: type[BaseSettings]) -> None:
    # The test run may export RABBITMQ_URL etc. (the integration harness does); defaults are
    # what this file compares with, so hide every variable the class would read.
    for name in _env_names(settings_class):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def _defaults(monkeypatch: pytest.MonkeyPatch, service: str) -> ServiceSettings:
    settings_class = _settings_class(service)
    _clean_environment(monkeypatch, settings_class)
    try:
        return settings_class()
    except ValidationError as error:
        pytest.fail(f"{service}: {settings_class.__name__}() fails with no environment: {error}")


def _environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment", {})
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in raw)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def _interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` as compose would expand it with NAME unset."""
    return _INTERPOLATION.sub(lambda match: match.group("default") or "", value)


def _build_args(build: dict[str, Any]) -> dict[str, str]:
    raw = build.get("args", {})
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {key: str(value) for key, value in raw.items()}


def _port_mappings(service: dict[str, Any]) -> list[tuple[str | None, int]]:
    """(host part or None, container port) for short and long `ports:` syntax."""
    mappings: list[tuple[str | None, int]] = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            published = entry.get("published")
            mappings.append((None if published is None else str(published), int(entry["target"])))
            continue
        text = str(entry).split("/", 1)[0]
        host, _, container = text.rpartition(":")
        mappings.append((host.rpartition(":")[2] or None, int(container)))
    return mappings


def _healthcheck_text(service: dict[str, Any]) -> str:
    test = service.get("healthcheck", {}).get("test", [])
    return " ".join(test) if isinstance(test, list) else str(test)


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


# --- the five services --------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_built_from_the_one_dockerfile_with_its_service_arg(name: str) -> None:
    service = _service(name)
    build = service.get("build")
    assert isinstance(build, dict), f"{name}: `build:` must be a mapping with args, got {build!r}"
    assert Path(ROOT, build.get("context", ".")).resolve() == ROOT, (
        f"{name}: build context must be the repository root (uv.lock and libs/ live there)"
    )
    assert build.get("dockerfile", "Dockerfile") == "Dockerfile", f"{name}: not the one Dockerfile"
    assert _build_args(build).get("SERVICE") == name, (
        f"{name}: build arg SERVICE must be {name!r}, got {_build_args(build).get('SERVICE')!r}"
    )


@pytest.mark.parametrize("name", SERVICES)
def test_service_arg_names_a_workspace_package_with_its_console_script(name: str) -> None:
    pyproject = ROOT / "services" / name / "pyproject.toml"
    assert pyproject.exists(), f"SERVICE={name} but services/{name}/pyproject.toml does not exist"
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    assert project["name"] == f"gridloop-{name}", (
        f"the Dockerfile syncs --package gridloop-{name}, the package is called {project['name']}"
    )
    scripts = project.get("scripts", {})
    assert f"gridloop-{name}" in scripts, (
        f"the image runs `gridloop-{name}`, services/{name} declares scripts {sorted(scripts)}"
    )


@pytest.mark.parametrize("name", SERVICES)
def test_service_name_and_port_match_its_settings_defaults(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = _defaults(monkeypatch, name)
    port = defaults.http_port
    assert defaults.service_name == name, (
        f"compose calls it {name!r}, its settings say service_name={defaults.service_name!r}"
    )
    service = _service(name)
    environment = _environment(service)
    assert environment.get("HTTP_PORT") == str(port), (
        f"{name}: HTTP_PORT in compose is {environment.get('HTTP_PORT')!r}, "
        f"the settings default is {port}"
    )
    targets = [container for _, container in _port_mappings(service)]
    assert port in targets, f"{name}: no `ports:` entry for container port {port} (got {targets})"
    health = _healthcheck_text(service)
    assert f":{port}/healthz" in health, f"{name}: healthcheck must GET :{port}/healthz: {health!r}"


@pytest.mark.parametrize("name", SERVICES)
def test_every_environment_variable_is_a_setting_of_that_service(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_class = _settings_class(name)
    known = _env_names(settings_class)
    environment = _environment(_service(name))
    unknown = sorted(key for key in environment if key.upper() not in known)
    assert not unknown, (
        f"{name}: compose sets {unknown}, which {settings_class.__name__} never reads "
        f"(it reads {sorted(known)}); a typo here is silently ignored at run time"
    )
    # And the values, with compose's ${VAR:-default} expanded, are valid for the class.
    _clean_environment(monkeypatch, settings_class)
    for key, value in environment.items():
        monkeypatch.setenv(key, _interpolate(value))
    try:
        settings_class()
    except ValidationError as error:
        pytest.fail(
            f"{name}: compose's environment is invalid for {settings_class.__name__}: {error}"
        )


@pytest.mark.parametrize("name", SERVICES)
def test_service_reaches_the_broker_and_database_as_its_own_users(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = _environment(_service(name))
    variable = name.upper().replace("-", "_") + "_MONGO_PASSWORD"
    database = _defaults(monkeypatch, name).database_name
    expected = {
        "RABBITMQ_URL": f"amqp://gridloop-{name}:dev-{name}@rabbitmq:5672/",
        "MONGODB_URL": f"mongodb://gridloop-{name}:${{{variable}:-dev-{name}-db}}"
        f"@mongo:27017/{database}?authSource=admin&retryWrites=false",
        "LOG_FORMAT": "json",
    }
    for key, value in expected.items():
        assert environment.get(key) == value, f"{name}: {key} should be {value!r}"
    # The mongo service gets the same password variable, and its init script makes that user.
    mongo = _environment(_service("mongo"))
    assert mongo.get(variable) == f"${{{variable}:-dev-{name}-db}}", f"mongo lacks {variable}"
    users = (ROOT / "compose" / "mongo-users.js").read_text(encoding="utf-8")
    assert f'"{name}"' in users and "readWrite" in users, f"compose/mongo-users.js: no {name}"
    mounted = [str(v) for v in _service("mongo").get("volumes", [])]
    assert "./compose/mongo-users.js:/docker-entrypoint-initdb.d/mongo-users.js:ro" in mounted


def test_accounts_provisions_every_service_before_any_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts = _service("accounts")
    assert accounts.get("command") == ["gridloop-dispatch", "provision-departments"]
    assert accounts.get("restart") == "no"
    environment = _environment(accounts)
    assert environment["BROKER_SERVICES"] == "all"
    assert environment["SERVICE_PASSWORD_TEMPLATE"] == "dev-{code}"  # = each service's URL
    known = _env_names(_settings_class("dispatch"))
    unknown = sorted(key for key in environment if key.upper() not in known)
    assert not unknown, f"accounts sets {unknown}, which DispatchSettings never reads"
    for name in SERVICES:
        condition = _service(name)["depends_on"].get("accounts", {}).get("condition")
        assert condition == "service_completed_successfully", f"{name} does not wait for accounts"


def test_sla_window_and_webhook_are_passed_through_with_defaults() -> None:
    window = "${SLA_ACCEPT_WINDOW_SECONDS:-28800}"
    for name in ("dispatch", "sla-monitor"):
        assert _environment(_service(name)).get("SLA_ACCEPT_WINDOW_SECONDS") == window, (
            f"{name}: dispatch and sla-monitor must share one accept window: {window}"
        )
    webhook = _environment(_service("notify")).get("NOTIFY_REPORTER_WEBHOOK_URL")
    assert webhook == "${NOTIFY_REPORTER_WEBHOOK_URL:-}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_waits_for_a_healthy_broker_and_database(name: str) -> None:
    depends_on = _service(name).get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on needs the long form with conditions"
    for infrastructure in ("rabbitmq", "mongo"):
        condition = depends_on.get(infrastructure, {}).get("condition")
        assert condition == "service_healthy", (
            f"{name}: depends_on.{infrastructure}.condition is {condition!r}, not service_healthy"
        )


@pytest.mark.parametrize("name", SERVICES)
def test_service_healthcheck_uses_python_not_curl(name: str) -> None:
    health = _healthcheck_text(_service(name))
    assert "urllib" in health and "python" in health, f"{name}: healthcheck {health!r}"
    assert "curl" not in health and "wget" not in health, f"{name}: slim images lack curl/wget"


@pytest.mark.parametrize("name", SERVICES)
def test_service_declares_replicas_without_a_port_clash(name: str) -> None:
    service = _service(name)
    replicas = service.get("deploy", {}).get("replicas")
    assert isinstance(replicas, int) and replicas >= 1, f"{name}: deploy.replicas is {replicas!r}"
    if replicas > 1:
        fixed = [host for host, _ in _port_mappings(service) if host and "-" not in host]
        assert not fixed, (
            f"{name}: {replicas} replicas cannot share published host port(s) {fixed}; "
            "drop `ports:` or publish a range such as 8102-8104:8002"
        )


@pytest.mark.parametrize("name", SERVICES)
def test_service_runs_as_the_images_non_root_user(name: str) -> None:
    user = str(_service(name).get("user", ""))
    assert user.partition(":")[0] not in {"root", "0"}, (
        f"{name}: compose overrides user to {user!r}"
    )


# --- infrastructure -----------------------------------------------------------------------


def test_rabbitmq_is_version_4_with_management_ports_and_a_ping_healthcheck() -> None:
    rabbitmq = _service("rabbitmq")
    assert rabbitmq.get("image") == "rabbitmq:4-management"
    targets = {container for _, container in _port_mappings(rabbitmq)}
    assert {5672, 15672} <= targets, f"rabbitmq publishes {sorted(targets)}"
    health = _healthcheck_text(rabbitmq)
    assert "rabbitmq-diagnostics" in health and "ping" in health, health


def test_mongo_is_version_8_with_a_volume_and_a_ping_healthcheck() -> None:
    mongo = _service("mongo")
    assert mongo.get("image") == "mongo:8"
    # Authentication on, with the same user the services' MONGODB_URL names.
    environment = _environment(mongo)
    assert environment["MONGO_INITDB_ROOT_USERNAME"] == "${MONGO_USERNAME:-gridloop}"
    assert environment["MONGO_INITDB_ROOT_PASSWORD"] == "${MONGO_PASSWORD:-dev-mongo-password}"
    health = _healthcheck_text(mongo)
    assert "mongosh" in health and "ping" in health, health
    volumes = [str(v if isinstance(v, str) else v.get("target")) for v in mongo.get("volumes", [])]
    assert any(v.endswith("/data/db") for v in volumes), f"mongo keeps no data volume: {volumes}"
    named = {v.split(":", 1)[0] for v in volumes if ":" in v and not v.startswith(".")}
    assert named <= set(_compose().get("volumes") or {}), f"undeclared named volumes {named}"


# --- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_syncs_one_package_from_the_lock_without_editable_installs() -> None:
    syncs = [
        args
        for keyword, args in _dockerfile_instructions()
        if keyword == "RUN" and "uv sync" in args
    ]
    assert syncs, "the Dockerfile never runs `uv sync`"
    for sync in syncs:
        for flag in ("uv sync --locked", "--no-editable", "--no-dev"):
            assert flag in sync, f"a `uv sync` in the Dockerfile lacks {flag!r}: {sync}"
        assert re.search(r'--package\s+"?gridloop-\$\{?SERVICE\b', sync), (
            f"a `uv sync` in the Dockerfile does not pick --package gridloop-${{SERVICE}}: {sync}"
        )


def test_dockerfile_runtime_stage_is_slim_non_root_and_runs_the_console_script() -> None:
    instructions = _dockerfile_instructions()
    stages = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(stages) >= 2, "builder and runtime stages expected"
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "python:3.11-slim" in text
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "the image has no USER: it would run as root"
    assert users[-1].partition(":")[0] not in {"root", "0"}, f"the last USER is {users[-1]!r}"
    assert "/app/.venv/bin" in text and "gridloop-${SERVICE}" in text
    assert [keyword for keyword, _ in instructions].count("CMD") == 1


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    patterns = {
        line.strip().removeprefix("**/").rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".venv", ".data", ".git", "__pycache__", ".pytest_cache", ".mypy_cache"):
        assert required in patterns, f".dockerignore should exclude {required}"


def test_secantusdb_stays_out_of_every_service_image() -> None:
    """SecantusDB (GPL-2.0, dev only) must not be a runtime dependency of any service."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    packages = {package["name"]: package for package in lock["package"]}
    for name in SERVICES:
        seen: set[str] = set()
        pending = [f"gridloop-{name}"]
        while pending:
            current = pending.pop()
            if current in seen or current not in packages:
                continue
            seen.add(current)
            package = packages[current]
            for dependency in package.get("dependencies", []):
                pending.append(dependency["name"])
                for extra in dependency.get("extra", []):
                    optional = packages.get(dependency["name"], {}).get("optional-dependencies", {})
                    pending.extend(d["name"] for d in optional.get(extra, []))
        assert "secantusdb" not in seen, f"gridloop-{name} pulls SecantusDB into its image"
