"""docs/asyncapi.yaml is generated from contracts, topology and subscriptions, and matches them."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from gridloop_common.contracts import ALL_MESSAGES, Message
from gridloop_common.contracts.parties import BROKER_USE
from gridloop_common.messaging.topology import (
    EXCHANGES,
    dead_queue,
    department_queue,
    inbox_queue,
    retry_queue,
)
from gridloop_common.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
REGENERATE = "regenerate it with `uv run python tools/asyncapi.py` and commit the result"


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gridloop_tools_asyncapi", ROOT / "tools" / "asyncapi.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the body runs
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return _load_tool()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    assert DOCUMENT.exists(), f"{DOCUMENT.relative_to(ROOT)} is missing: {REGENERATE}"
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def test_committed_document_is_what_the_generator_writes_today(tool: ModuleType) -> None:
    committed = DOCUMENT.read_text(encoding="utf-8")
    fresh: str = tool.render()
    if committed != fresh:
        committed_lines, fresh_lines = committed.splitlines(), fresh.splitlines()
        first = next(
            (
                i
                for i, (a, b) in enumerate(zip(committed_lines, fresh_lines, strict=False))
                if a != b
            ),
            min(len(committed_lines), len(fresh_lines)),
        )
        pytest.fail(
            f"docs/asyncapi.yaml is stale (first difference at line {first + 1}:\n"
            f"  committed: {committed_lines[first] if first < len(committed_lines) else '<end>'}\n"
            f"  generated: {fresh_lines[first] if first < len(fresh_lines) else '<end>'}\n"
            f"); {REGENERATE}"
        )


def test_document_is_asyncapi_3(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["defaultContentType"] == "application/cloudevents+json"
    assert {"channels", "operations", "components", "servers"} <= document.keys()


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda m: m.__name__)
def test_every_contract_is_described_with_its_type_and_required_fields(
    document: dict[str, Any], message: type[Message]
) -> None:
    components = document["components"]
    name = message.__name__
    assert name in components["messages"], (
        f"{name} ({message.TYPE}) is not in the document: {REGENERATE}"
    )
    described = components["messages"][name]
    assert described["bindings"]["amqp"]["messageType"] == message.TYPE
    envelope, specific = described["payload"]["allOf"]
    assert envelope == {"$ref": "#/components/schemas/CloudEvent"}
    assert specific["properties"]["type"] == {"const": message.TYPE}
    assert specific["properties"]["data"] == {"$ref": f"#/components/schemas/{name}"}

    schema = components["schemas"][name]
    required = [field for field, info in message.model_fields.items() if info.is_required()]
    assert schema.get("required", []) == required, (
        f"{name}: the document says required {schema.get('required')}, the contract {required}; "
        f"{REGENERATE}"
    )
    assert set(schema["properties"]) == set(message.model_fields), (
        f"{name}: fields differ from the contract; {REGENERATE}"
    )


def test_cloudevent_envelope_schema_requires_the_cloudevents_core_attributes(
    document: dict[str, Any],
) -> None:
    envelope = document["components"]["schemas"]["CloudEvent"]
    assert {"id", "source", "type", "time", "data"} <= set(envelope["required"])
    assert {"specversion", "subject", "datacontenttype", "correlationid", "causationid"} <= set(
        envelope["properties"]
    )


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda m: m.__name__)
def test_every_contract_has_a_channel_on_its_exchange(
    document: dict[str, Any], message: type[Message]
) -> None:
    channels = [
        channel
        for channel in document["channels"].values()
        if message.__name__ in channel.get("messages", {})
        and channel["bindings"]["amqp"]["is"] == "routingKey"
    ]
    assert len(channels) == 1, f"{message.__name__} needs exactly one routing-key channel"
    (channel,) = channels
    exchange = channel["bindings"]["amqp"]["exchange"]
    assert exchange["name"] == message.EXCHANGE
    assert exchange["type"] == dict((n, k.value) for n, k in EXCHANGES)[message.EXCHANGE]
    parameters = channel.get("parameters", {})
    sample = channel["address"]
    for name in parameters:
        sample = sample.replace("{" + name + "}", f"<{name}>")
    assert "{" not in sample, f"{channel['address']}: every placeholder needs a parameter"


def test_the_three_exchanges_are_described_with_their_types(document: dict[str, Any]) -> None:
    described = {
        channel["bindings"]["amqp"]["exchange"]["name"]: channel["bindings"]["amqp"]["exchange"][
            "type"
        ]
        for channel in document["channels"].values()
        if channel["bindings"]["amqp"]["is"] == "routingKey"
    }
    assert described == {
        "gridloop.events": "topic",
        "gridloop.orders": "direct",
        "gridloop.replies": "topic",
    }


def test_queue_names_follow_the_topology_code(document: dict[str, Any]) -> None:
    queues = {
        channel["bindings"]["amqp"]["queue"]["name"]
        for channel in document["channels"].values()
        if channel["bindings"]["amqp"]["is"] == "queue"
    }
    delays = ServiceSettings.model_fields["retry_delays_ms"].default
    consumers = {name.removesuffix(".inbox") for name in queues if name.endswith(".inbox")}
    assert {"dispatch", "sla-monitor", "scoring", "notify"} <= consumers
    for service in consumers:
        assert inbox_queue(service) in queues
        assert dead_queue(service) in queues, f"{service} has no parking queue in the document"
        for delay in delays:
            assert retry_queue(service, delay) in queues, f"{service} lacks its {delay} ms tier"
    assert department_queue("{department}") in queues


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for escaped in pointer.removeprefix("#/").split("/"):
        node = node[escaped.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_reference_resolves_inside_the_document(document: dict[str, Any]) -> None:
    broken = []
    for pointer in set(_refs(document)):
        try:
            _resolve(document, pointer)
        except (KeyError, TypeError):
            broken.append(pointer)
    assert not broken, f"unresolvable $ref: {sorted(broken)}"


def test_operations_name_messages_of_their_own_channel(document: dict[str, Any]) -> None:
    # AsyncAPI 3: an operation's messages must be a subset of its channel's messages.
    for operation_id, operation in document["operations"].items():
        assert operation["action"] in {"send", "receive"}
        channel_pointer = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_pointer + "/messages/"), (
                f"{operation_id}: {message['$ref']} is not a message of {channel_pointer}"
            )


def test_every_contract_has_a_documented_publisher(document: dict[str, Any]) -> None:
    operations = document["operations"].values()
    for message in ALL_MESSAGES:
        senders = [
            operation
            for operation in operations
            if operation["action"] == "send"
            and any(
                m["$ref"].endswith("/messages/" + message.__name__) for m in operation["messages"]
            )
        ]
        assert senders, f"nobody is documented to publish {message.__name__}"


@pytest.mark.parametrize("service", list(BROKER_USE))
def test_each_services_broker_user_may_bind_what_its_subscriptions_bind(
    tool: ModuleType, service: str
) -> None:
    """Provisioning grants a service read on the exchanges of `BROKER_USE`: a subscription on
    any other would be refused by the broker at start-up."""
    bound = {b.exchange for s in tool.service_subscriptions(service) for b in s.all_bindings()}
    assert bound == set(BROKER_USE[service].consumes_from), (
        f"{service} binds to {sorted(bound)}; gridloop_common.contracts.parties.BROKER_USE says "
        f"{sorted(BROKER_USE[service].consumes_from)}"
    )
