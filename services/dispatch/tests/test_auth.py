"""API keys: stored as salted scrypt hashes, checked in constant time, cached once verified."""

from __future__ import annotations

from typing import Any

from gridloop_common.api_keys import keys_match
from gridloop_dispatch.auth import (
    DepartmentKeyring,
    hash_key,
    split_key,
    verify_key,
)


def test_a_stored_hash_verifies_only_its_own_key_and_never_holds_it() -> None:
    stored = hash_key("water.s3cret")
    assert "s3cret" not in str(stored)
    assert verify_key("water.s3cret", stored)
    assert not verify_key("water.s3cret!", stored)
    assert hash_key("water.s3cret")["hash"] != stored["hash"], "a fresh salt each time"


def test_a_key_names_its_department() -> None:
    assert split_key("city-mgmt.abc.def") == ("city-mgmt", "abc.def")
    assert split_key("no-dot") is None
    assert split_key(".secret") is None


def test_the_operator_key_must_be_configured_and_equal() -> None:
    assert keys_match("k", "k")
    assert not keys_match("k", "")
    assert not keys_match("", "")
    assert not keys_match("k2", "k")


class Store:
    def __init__(self, stored: dict[str, dict[str, Any]]) -> None:
        self.stored = stored
        self.reads = 0

    async def get(self, code: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.stored.get(code)


async def test_the_keyring_finds_the_department_and_rejects_others_keys() -> None:
    keyring = DepartmentKeyring(Store({"water": hash_key("water.s3cret")}))
    assert await keyring.department_of("water.s3cret") == "water"
    assert await keyring.department_of("water.s3cret") == "water"  # from the cache
    assert await keyring.department_of("water.wrong") is None
    assert await keyring.department_of("city-mgmt.s3cret") is None
    assert await keyring.department_of("garbage") is None


async def test_a_rotated_key_invalidates_the_cached_one() -> None:
    store = Store({"water": hash_key("water.old")})
    keyring = DepartmentKeyring(store)
    assert await keyring.department_of("water.old") == "water"
    store.stored["water"] = hash_key("water.new")
    assert await keyring.department_of("water.old") is None
    assert await keyring.department_of("water.new") == "water"
