"""API keys: department keys kept as salted scrypt hashes; the operator key compared safely."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from typing import Any, Protocol

# RFC 7914's interactive-login parameters: about 16 MiB and tens of milliseconds per check, so a
# stolen hash table is expensive to brute-force. Stored with each hash, so they can be raised.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_LENGTH = 32


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def department_key(code: str, secret: str) -> str:
    """A department's key names the department, so one hash is checked, not all of them."""
    return f"{code}.{secret}"


def split_key(key: str) -> tuple[str, str] | None:
    code, dot, secret = key.partition(".")
    if not dot or not code or not secret:
        return None
    return code, secret


def hash_key(key: str, salt: bytes | None = None) -> dict[str, Any]:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        key.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=_LENGTH
    )
    return {
        "algorithm": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": salt.hex(),
        "hash": digest.hex(),
    }


def verify_key(key: str, stored: dict[str, Any]) -> bool:
    if stored.get("algorithm") != "scrypt":
        return False
    digest = hashlib.scrypt(
        key.encode(),
        salt=bytes.fromhex(str(stored["salt"])),
        n=int(stored["n"]),
        r=int(stored["r"]),
        p=int(stored["p"]),
        dklen=len(bytes.fromhex(str(stored["hash"]))),
    )
    return hmac.compare_digest(digest.hex(), str(stored["hash"]))


class KeyStore(Protocol):
    async def get(self, code: str) -> dict[str, Any] | None: ...


class DepartmentKeyring:
    """Checks department keys against their stored hashes.

    scrypt is slow on purpose; a key already verified against the same stored hash is
    remembered (by its SHA-256) so a department's steady traffic costs one database read each.
    """

    def __init__(self, store: KeyStore, cache_size: int = 1024) -> None:
        self._store = store
        self._verified: dict[tuple[str, str], str] = {}
        self._cache_size = cache_size

    async def department_of(self, key: str) -> str | None:
        """The department a presented key belongs to, or None if it is not a valid key."""
        parts = split_key(key)
        if parts is None:
            return None
        code = parts[0]
        stored = await self._store.get(code)
        if stored is None:
            return None
        fingerprint = (code, hashlib.sha256(key.encode()).hexdigest())
        if self._verified.get(fingerprint) == stored.get("hash"):
            return code
        if not await asyncio.to_thread(verify_key, key, stored):
            return None
        if len(self._verified) >= self._cache_size:
            self._verified.clear()
        self._verified[fingerprint] = str(stored["hash"])
        return code
