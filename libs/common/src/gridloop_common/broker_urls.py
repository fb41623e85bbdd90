"""AMQP URLs of the same broker for another user: a service, a department, a monitor."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit


def url_as(amqp_url: str, user: str, password: str) -> str:
    """The broker URL with another user's credentials (same host, port and virtual host)."""
    parts = urlsplit(amqp_url)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
