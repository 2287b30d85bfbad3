"""The witness's HTTP interface (Starlette): the only part of :mod:`evidence.witness` that imports starlette."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from evidence.witness.protocol import (
    MAX_BODY_BYTES,
    TEXT_CONTENT_TYPE,
    Reply,
    normalise_prefix,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from evidence.witness.state import Witness

__all__ = [
    "create_app",
]

logger = logging.getLogger("evidence.witness")


def create_app(witness: Witness, *, prefix: str = "", max_body: int = MAX_BODY_BYTES) -> Starlette:
    """The witness's HTTP interface as an ASGI app (Starlette).

    - ``POST <prefix>/add-checkpoint``: tlog-witness add-checkpoint; bodies over ``max_body``
      bytes get 413.
    - ``GET <prefix>/<lowercase hex SHA-256(origin)>/checkpoint``: the latest checkpoint this
      witness cosigned for that log, with its cosignature (404 if none).
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    prefix = normalise_prefix(prefix)

    def respond(reply: Reply) -> Response:
        # The Content-Type is set as a header so that Starlette does not add a charset to
        # text/x.tlog.size, which clients compare exactly.
        return Response(reply.body, status_code=reply.status, headers={"content-type": reply.content_type})

    too_large = Reply(413, f"the request is larger than {max_body} bytes\n".encode())

    async def add_checkpoint(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body):
            logger.info("add-checkpoint refused (413): Content-Length %s", declared[:20])
            return respond(too_large)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                logger.info("add-checkpoint refused (413): body over %d bytes", max_body)
                return respond(too_large)
        reply = await run_in_threadpool(witness.add_checkpoint, bytes(body))
        return respond(reply)

    async def get_checkpoint(request: Request) -> Response:
        note = await run_in_threadpool(witness.latest_checkpoint, str(request.path_params["origin_hash"]))
        if note is None:
            return respond(Reply(404, b"this witness has cosigned no checkpoint for that log\n"))
        return Response(note, headers={"content-type": TEXT_CONTENT_TYPE, "cache-control": "no-store"})

    routes = [
        Route(f"{prefix}/add-checkpoint", add_checkpoint, methods=["POST"]),
        Route(f"{prefix}/{{origin_hash}}/checkpoint", get_checkpoint, methods=["GET"]),
    ]
    return Starlette(routes=routes)
