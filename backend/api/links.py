"""Signed study links: a link's platform ids signed with the study's secret, so a changed link is refused.

Pure: no ORM, no HTTP. A study with ``platform.signed`` takes newcomers only by links whose
``sig`` parameter is ``HMAC-SHA256(secret, message)`` in hex, where ``message`` is the link's
signed parameters (the study's participant, study and session parameters that the link carries,
and ``expires`` if it has one) as ``name=value`` pairs, sorted by name, percent-encoded as in a
URL query (RFC 3986: ``quote(..., safe="")``), joined by ``&``. ``expires`` is a Unix time in
seconds after which the link is refused. Any system that knows the study's secret can make links
(docs/studies.md shows the same in three lines of Python); ``manage.py study_link`` makes them here.
"""

import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote, urlencode

SIGNATURE = "sig"
EXPIRES = "expires"


class LinkRefused(ValueError):
    """The link's signature is missing, does not match its parameters, or has expired; ``code`` says which."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def message(params: dict[str, str], names: list[str]) -> str:
    """Return what is signed: the link's parameters among ``names`` (and ``expires``), sorted, as a query string."""
    signed = sorted((name, params[name]) for name in {*names, EXPIRES} if name and params.get(name))
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in signed)


def signature(secret: str, params: dict[str, str], names: list[str]) -> str:
    """Return the link's signature (hex HMAC-SHA256 of ``message`` under the study's secret)."""
    return hmac.new(secret.encode(), message(params, names).encode(), hashlib.sha256).hexdigest()


def verify(secret: str, params: dict[str, str], names: list[str], *, now: datetime) -> None:
    """Raise LinkRefused unless the link carries a valid signature of its parameters, and has not expired."""
    given = params.get(SIGNATURE)
    if not given:
        raise LinkRefused(
            "unsigned_link",
            "This study is entered only by the personal link you were given, and this link has no signature "
            f"({SIGNATURE}). Open the link exactly as you received it.",
        )
    if not hmac.compare_digest(given.lower(), signature(secret, params, names)):
        raise LinkRefused(
            "tampered_link",
            "This link's signature does not match its parameters: it was changed after it was made. Open the link "
            "exactly as you received it.",
        )
    expires = params.get(EXPIRES)
    if expires is not None:
        if not expires.isdigit():  # signed, so written by whoever holds the secret: still, never a 500
            raise LinkRefused("invalid_link", f"The link's {EXPIRES} must be a Unix time in seconds.")
        if int(expires) < now.timestamp():
            raise LinkRefused("link_expired", "This link has expired. Ask the study's researchers for a new one.")


def signed_query(secret: str, params: dict[str, str], names: list[str], *, expires: datetime | None = None) -> str:
    """Return the query string of a signed link carrying ``params`` (and ``expires``), its signature last."""
    params = {name: value for name, value in params.items() if value}
    if expires is not None:
        params[EXPIRES] = str(int(expires.timestamp()))
    return urlencode({**params, SIGNATURE: signature(secret, params, names)})
