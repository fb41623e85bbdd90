"""Rules several channels share: category codes, text limits, photo links."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from gridloop_common.catalogue import CATEGORIES_BY_CODE, UNCLASSIFIED, classify
from gridloop_intake.submission import Problem, SubmissionRejected

Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)
]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
PhotoUrl = Annotated[str, StringConstraints(pattern=r"^https?://", max_length=2000)]


def known_category(code: str, field: str = "category_code") -> str:
    if code == UNCLASSIFIED or code in CATEGORIES_BY_CODE:
        return code
    raise SubmissionRejected(
        Problem(field, f"unknown category {code!r}; see GET /open311/v2/services.json"),
        code="unknown_category",
    )


def category_from_text(text: str) -> str:
    found = classify(text)
    return found.code if found is not None else UNCLASSIFIED
