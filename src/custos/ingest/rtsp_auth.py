"""RTSP authentication: answering a server's WWW-Authenticate challenge (RFC 2617 / RFC 7616 Digest,
and Basic). Split from `custos.ingest.rtsp` so the session's code is about the session."""

from __future__ import annotations

import base64
import hashlib
import os
import re

__all__ = ["Challenge", "digest_response"]


def digest_response(
    *,
    username: str,
    password: str,
    realm: str,
    nonce: str,
    method: str,
    uri: str,
    algorithm: str = "MD5",
    qop: str | None = None,
    nc: str = "",
    cnonce: str = "",
) -> str:
    """The `response` of an HTTP/RTSP Digest authorization (RFC 2617; SHA-256 from RFC 7616).

    With `qop="auth"`: H(H(A1):nonce:nc:cnonce:qop:H(A2)); without qop (RFC 2069 compatible):
    H(H(A1):nonce:H(A2)). A1 is user:realm:password (for "-sess", H(that):nonce:cnonce), A2 is method:uri.
    """
    algo = algorithm.upper()
    h = hashlib.sha256 if algo.startswith("SHA-256") else hashlib.md5

    def digest(text: str) -> str:
        return h(text.encode("utf-8")).hexdigest()

    ha1 = digest(f"{username}:{realm}:{password}")
    if algo.endswith("-SESS"):
        ha1 = digest(f"{ha1}:{nonce}:{cnonce}")
    ha2 = digest(f"{method}:{uri}")
    if qop:
        return digest(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return digest(f"{ha1}:{nonce}:{ha2}")


class Challenge:
    """A WWW-Authenticate challenge and the state to answer it (RFC 2617 / RFC 7616 digest, Basic)."""

    def __init__(self, scheme: str, params: dict[str, str]) -> None:
        self.scheme = scheme  # "digest" | "basic"
        self.realm = params.get("realm", "")
        self.nonce = params.get("nonce", "")
        self.opaque = params.get("opaque")
        self.algorithm = params.get("algorithm", "MD5")
        self.algorithm_given = "algorithm" in params
        qops = [q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()]
        self.qop = "auth" if "auth" in qops else None
        self.qop_offered = bool(qops)
        self.stale = params.get("stale", "").lower() == "true"
        self.nc = 0

    @classmethod
    def pick(cls, values: list[str]) -> Challenge | None:
        """The strongest challenge we can answer: digest (MD5, SHA-256, -sess) before Basic."""
        found: list[Challenge] = []
        for value in values:
            scheme, _, rest = value.strip().partition(" ")
            scheme = scheme.lower()
            if scheme == "digest":
                params = {
                    k.lower(): (q if q else v) for k, q, v in re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]*))', rest)
                }
                ch = cls("digest", params)
                if ch.algorithm.upper().removesuffix("-SESS") in ("MD5", "SHA-256") and (ch.qop or not ch.qop_offered):
                    found.append(ch)
            elif scheme == "basic":
                found.append(cls("basic", {}))
        found.sort(key=lambda c: (c.scheme != "digest", "SHA-256" not in c.algorithm.upper()))
        return found[0] if found else None

    def header(self, method: str, uri: str, username: str, password: str) -> str:
        if self.scheme == "basic":
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            return f"Basic {token}"
        fields = [f'username="{username}"', f'realm="{self.realm}"', f'nonce="{self.nonce}"', f'uri="{uri}"']
        nc = cnonce = ""
        if self.qop:
            self.nc += 1
            nc, cnonce = f"{self.nc:08x}", os.urandom(8).hex()
        response = digest_response(
            username=username,
            password=password,
            realm=self.realm,
            nonce=self.nonce,
            method=method,
            uri=uri,
            algorithm=self.algorithm,
            qop=self.qop,
            nc=nc,
            cnonce=cnonce,
        )
        fields.append(f'response="{response}"')
        if self.qop:
            fields += [f"qop={self.qop}", f"nc={nc}", f'cnonce="{cnonce}"']
        if self.opaque is not None:
            fields.append(f'opaque="{self.opaque}"')
        if self.algorithm_given:
            fields.append(f"algorithm={self.algorithm}")
        return "Digest " + ", ".join(fields)
