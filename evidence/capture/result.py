"""What a capture returns: frozen values mirroring ``capture.json``.

The JSON files are the record; these classes are the same facts for Python callers.
:attr:`CaptureResult.facts` is exactly the content of ``capture.json`` and
:attr:`CaptureResult.environment` exactly that of ``environment.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.capture.options import CaptureOptions

__all__ = [
    "ARTIFACT_NAMES",
    "CaptureResult",
    "RedirectHop",
    "Resource",
    "TLSInfo",
]

#: Every file a capture can write, in the order they are listed in ``capture.json``.
#: ``tls-chain.pem`` is written for HTTPS pages only, ``start.tsr`` only when a TSA gave the
#: clean-environment check its start token.
ARTIFACT_NAMES: tuple[str, ...] = (
    "archive.warc.gz",
    "screenshot-full.png",
    "screenshot-viewport.png",
    "dom.html",
    "page.pdf",
    "page.mhtml",
    "tls-chain.pem",
    "environment.json",
    "clean-environment.json",
    "start.tsr",
    "capture.json",
)


def error_kind(status: int) -> str | None:
    """``"client error"`` for 4xx, ``"server error"`` for 5xx, else ``None``."""
    if 400 <= status < 500:
        return "client error"
    if status >= 500:
        return "server error"
    return None


@dataclass(frozen=True)
class RedirectHop:
    """One step from the requested address to the page shown.

    ``via`` says how the browser got to this address: ``"requested"`` (the first),
    ``"http-redirect"`` (the previous step answered 3xx with a Location) or
    ``"client-navigation"`` (the previous page moved on by itself, e.g. script or meta
    refresh). ``location`` is the Location header this step answered with, if any.
    """

    url: str
    status: int
    status_text: str
    location: str | None
    via: str
    server_ip: str | None
    server_port: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status": self.status,
            "status_text": self.status_text,
            "location": self.location,
            "via": self.via,
            "server_ip": self.server_ip,
            "server_port": self.server_port,
        }


@dataclass(frozen=True)
class Resource:
    """One network request the browser made for the page (document, image, script, ...).

    ``body_recorded`` is true when the response body is in the WARC; ``note`` says why
    not otherwise (request failed, still loading, body not kept by the browser).
    ``size`` is the decoded body length; ``transfer_size`` the bytes on the wire.
    ``body_encoding`` is ``"binary"`` when the browser handed over the bytes as they
    were, or the character set its decoded text was written back with.
    """

    url: str
    method: str
    resource_type: str
    status: int | None
    mime_type: str | None
    size: int | None
    transfer_size: int | None
    server_ip: str | None
    server_port: int | None
    protocol: str | None
    body_recorded: bool
    body_encoding: str | None
    note: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "method": self.method,
            "resource_type": self.resource_type,
            "status": self.status,
            "mime_type": self.mime_type,
            "size": self.size,
            "transfer_size": self.transfer_size,
            "server_ip": self.server_ip,
            "server_port": self.server_port,
            "protocol": self.protocol,
            "body_recorded": self.body_recorded,
            "body_encoding": self.body_encoding,
            "note": self.note,
        }


@dataclass(frozen=True)
class TLSInfo:
    """The secure connection of the page shown, as the browser saw it, cross-checked
    against the independent raw fetch.

    ``chain_sha256`` lists the SHA-256 of each certificate (DER) in ``tls-chain.pem``,
    server certificate first. ``verified`` is false when the certificate failed
    verification and the capture went on only because ``insecure`` was set;
    ``verification_error`` then says why it failed.
    """

    protocol: str
    cipher: str
    key_exchange: str | None
    key_exchange_group: str | None
    server_signature_algorithm: int | None
    subject: str
    issuer: str
    san: tuple[str, ...]
    valid_from: str
    valid_to: str
    chain_sha256: tuple[str, ...]
    certificate_transparency: str | None
    verified: bool
    verification_error: str | None
    raw_fetch_protocol: str | None
    raw_fetch_cipher: str | None
    raw_fetch_leaf_sha256: str | None
    leaf_matches_raw_fetch: bool | None

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "cipher": self.cipher,
            "key_exchange": self.key_exchange,
            "key_exchange_group": self.key_exchange_group,
            "server_signature_algorithm": self.server_signature_algorithm,
            "subject": self.subject,
            "issuer": self.issuer,
            "san": list(self.san),
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "chain_sha256": list(self.chain_sha256),
            "certificate_transparency": self.certificate_transparency,
            "verified": self.verified,
            "verification_error": self.verification_error,
            "raw_fetch": {
                "protocol": self.raw_fetch_protocol,
                "cipher": self.raw_fetch_cipher,
                "leaf_sha256": self.raw_fetch_leaf_sha256,
                "leaf_matches_browser": self.leaf_matches_raw_fetch,
            },
        }


@dataclass(frozen=True)
class CaptureResult:
    """The outcome of one successful capture (one URL, one output folder).

    A 4xx/5xx page is a successful capture (it can be evidence too) with
    :attr:`http_error` set. Everything here is also in ``capture.json``
    (:attr:`facts`) and ``environment.json`` (:attr:`environment`).
    """

    out_dir: Path
    requested_url: str
    final_url: str
    status: int
    status_text: str
    http_error: bool
    mime_type: str | None
    page_title: str
    redirect_chain: tuple[RedirectHop, ...]
    server_ip: str | None
    server_port: int | None
    dns_host: str
    dns_answers: tuple[str, ...]
    tls: TLSInfo | None
    insecure: bool
    storage_state_used: bool
    storage_state_sha256: str | None
    user_agent: str
    started_at: str
    finished_at: str
    timings_ms: Mapping[str, float]
    full_page_height: int
    full_page_cap: int
    full_page_truncated: bool
    resources: tuple[Resource, ...]
    warnings: tuple[str, ...]
    options: CaptureOptions
    artifacts: Mapping[str, Path]
    facts: Mapping[str, Any]
    environment: Mapping[str, Any]

    @property
    def error_kind(self) -> str | None:
        """``"client error"`` for 4xx, ``"server error"`` for 5xx, else ``None``."""
        return error_kind(self.status)
