"""Camera URLs in messages: never with their password."""

from __future__ import annotations


def redact(url: str) -> str:
    """The URL with any password replaced by '***', for errors, logs and listings.

    Works on text, not on a parsed URL, so that even a URL too broken to parse (a password with an
    unescaped '@' or '/') is shown without it: everything before the last '@' but the user name goes.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    userinfo, _, hostpart = rest.rpartition("@")  # the last '@': a password may hold '/' or '@'
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user.split('/', 1)[0]}{':***' if colon else ''}@{hostpart}"
