"""Reporter pseudonyms: the same phone or e-mail always maps to the same opaque reporter id."""

from __future__ import annotations

import hashlib
import hmac
import re

from gridloop_intake.submission import Contact

_NOT_DIGIT = re.compile(r"\D")


def normalized_phone(phone: str) -> str:
    digits = _NOT_DIGIT.sub("", phone)
    # +86 138… and 138… are the same line.
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def reporter_id_for(contact: Contact, key: bytes, fallback: str) -> str:
    """Keyed hash of the contact (so the id reveals nothing without the key), else a pseudonym
    of `fallback` (e.g. a chat sender id or the report id) for a reporter who left no contact."""
    if contact.phone:
        material = "phone:" + normalized_phone(contact.phone)
    elif contact.email:
        material = "email:" + contact.email.strip().lower()
    else:
        material = "ref:" + fallback
    digest = hmac.new(key, material.encode(), hashlib.sha256).hexdigest()
    return "P-" + digest[:20]
