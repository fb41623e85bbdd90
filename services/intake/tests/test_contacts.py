"""Reporter pseudonyms: stable per contact, opaque without the key."""

from __future__ import annotations

from gridloop_intake.contacts import normalized_phone, reporter_id_for
from gridloop_intake.submission import Contact

KEY = b"test-key"


def test_the_same_phone_written_differently_is_the_same_reporter() -> None:
    ids = {
        reporter_id_for(Contact(phone=p), KEY, "R-1")
        for p in ("13812345678", "+86 138 1234 5678", "86-138-1234-5678")
    }
    assert ids == {"P-c6ca34bdd003bce1945d"}
    assert normalized_phone("+86 138 1234 5678") == "13812345678"


def test_the_pseudonym_reveals_nothing_and_depends_on_the_key() -> None:
    one = reporter_id_for(Contact(phone="13812345678"), KEY, "R-1")
    assert "13812345678" not in one
    assert one != reporter_id_for(Contact(phone="13812345678"), b"other-key", "R-1")


def test_a_reporter_without_contact_gets_a_pseudonym_of_the_fallback() -> None:
    # A fixed value: a reporter keeps their pseudonym across restarts and replicas.
    assert reporter_id_for(Contact(), KEY, "chat:wx-1") == "P-f88d59725ec92c8166e4"
    assert reporter_id_for(Contact(), KEY, "chat:wx-1") != reporter_id_for(
        Contact(), KEY, "chat:wx-2"
    )
