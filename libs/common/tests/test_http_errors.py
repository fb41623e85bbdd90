"""The framework's own refusals come in the shared machine-readable shape (`code`, `detail`)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from gridloop_common.http_errors import install_error_handlers


class Body(BaseModel):
    text: str


def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        return {"text": body.text}

    return TestClient(app)


def test_a_body_that_is_not_even_text_is_refused_with_a_code() -> None:
    # Bytes that are not UTF-8: FastAPI gives up before JSON decoding (its own 400).
    answer = client().post(
        "/things", content=b"\x1fC\xff\xfe", headers={"Content-Type": "application/json"}
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "unreadable_body")


def test_text_that_is_not_json_is_an_invalid_request() -> None:
    answer = client().post(
        "/things", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_request")


def test_an_unknown_path_and_a_wrong_method_say_so_in_the_shared_shape() -> None:
    unknown = client().get("/nowhere")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    wrong = client().get("/things")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")
    assert wrong.headers["allow"] == "POST"  # the framework's headers are kept
