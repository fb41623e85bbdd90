"""What every page shares: who is looking (session or key), and drawing a template.

Every page needs a signed-in operator or viewer (or their key in `X-Api-Key`). A browser that
is not signed in is sent to the sign-in page; any other client gets a 401 with a
machine-readable body, as on every service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from gridloop_common.api_keys import API_KEY_HEADER
from gridloop_common.http import app_deps
from gridloop_common.http_errors import ApiProblem
from gridloop_console.bootstrap import ConsoleDeps
from gridloop_console.labels import LANGUAGES, Words, language_of
from gridloop_console.sessions import COOKIE, LANGUAGE_COOKIE, Role

Deps = Annotated[ConsoleDeps, Depends(app_deps)]
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


class SignInRequired(Exception):
    """A browser without a session: answered with a redirect to the sign-in page."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def visitor(request: Request, deps: Deps) -> Role:
    sessions = deps.sessions
    if not sessions.enabled:
        raise ApiProblem(503, "operator_api_disabled", "OPERATOR_API_KEY is not configured")
    presented = request.headers.get(API_KEY_HEADER)
    if presented is not None:
        role = sessions.role_of_key(presented)
        if role is None:
            raise ApiProblem(
                401, "invalid_api_key", "the key is neither the operator's nor the viewer's"
            )
        return role
    role = sessions.role_of_cookie(request.cookies.get(COOKIE))
    if role is not None:
        return role
    if _wants_html(request):
        raise SignInRequired(request.url.path)
    raise ApiProblem(
        401, "not_signed_in", f"sign in at /signin, or send a staff key in {API_KEY_HEADER}"
    )


Visitor = Annotated[Role, Depends(visitor)]


def _words(request: Request, deps: ConsoleDeps) -> Words:
    language = language_of(
        request.query_params.get("lang"),
        request.cookies.get(LANGUAGE_COOKIE),
        deps.settings.default_language,
    )
    return Words(language, deps.places)


def render(
    request: Request,
    deps: ConsoleDeps,
    template: str,
    *,
    role: Role | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    words = _words(request, deps)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {"t": words, "role": role, "lang": words.language, "path": request.url.path, **context},
        status_code=status_code,
    )
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:  # the switch is remembered for the next pages
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return response


async def form_fields(request: Request) -> dict[str, list[str]]:
    """A posted form's fields (application/x-www-form-urlencoded, UTF-8), each with its values.

    Parsed with the standard library: the console's forms are a handful of short fields, and
    FastAPI's own form parsing would add python-multipart for them."""
    return parse_qs((await request.body()).decode("utf-8", "replace"))


def require_operator(role: Role) -> None:
    if not role.may_act:
        raise ApiProblem(
            403, "read_only_key", "a viewer only reads; acting takes the operator's sign-in"
        )


def local_path(target: str) -> str:
    """Only a path on this console: a sign-in link must not send anyone elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") else "/"
