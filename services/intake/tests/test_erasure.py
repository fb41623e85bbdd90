"""Who an erasure request names: the pseudonym of the phone or e-mail the resident gives."""

from __future__ import annotations

import pytest

from gridloop_intake.contacts import reporter_id_for
from gridloop_intake.erasure import ErasureRequest, NothingToErase
from gridloop_intake.submission import Contact

KEY = b"test-key"


def test_the_phone_as_the_resident_says_it_finds_the_pseudonym_their_reports_carry() -> None:
    stored = reporter_id_for(Contact(phone="13812345678", name="王"), KEY, "R-1")
    assert ErasureRequest(phone="+86 138 1234 5678").reporter(KEY) == stored
    assert ErasureRequest(reporter_id=stored).reporter(KEY) == stored


def test_an_email_finds_its_pseudonym_whatever_its_case() -> None:
    stored = reporter_id_for(Contact(email="Li.Lei@Example.org"), KEY, "R-1")
    assert ErasureRequest(email="li.lei@example.org ").reporter(KEY) == stored


def test_a_request_naming_nobody_is_refused() -> None:
    with pytest.raises(NothingToErase):
        ErasureRequest().reporter(KEY)
    with pytest.raises(NothingToErase):
        ErasureRequest(phone="", email="").reporter(KEY)
