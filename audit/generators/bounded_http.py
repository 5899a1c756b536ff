"""HTTP for provider responses, which are input like any file: a body past
``MAX_BODY`` bytes (as sent, and again after decompression, so a gzip bomb
stops at the cap), an encoding we did not offer, or a body still arriving
after the request's deadline is refused while it streams, before it is held
in memory. The OpenAI client, the Stability client and image URL fetches all
use this transport."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx

MAX_BODY = 64 * 2**20  # bytes: four 1792x1024 PNGs as base64 fit with room to spare
ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BodyRefused(httpx.ReadError):
    """The body broke a limit; ``reason`` says which, for the image's error."""

    def __init__(self, reason: str, request: httpx.Request, *, late: bool = False) -> None:
        super().__init__(reason, request=request)
        self.reason, self.late = reason, late  # late: a later attempt may be quicker


def body_refusal(exc: BaseException | None) -> BodyRefused | None:
    """The limit a failed request broke, looking through the client's own
    wrapping (openai wraps transport errors in APIConnectionError)."""
    while exc is not None:
        if isinstance(exc, BodyRefused):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


class _Capped(httpx.SyncByteStream):
    def __init__(self, raw: httpx.SyncByteStream, request: httpx.Request, encoding: str,
                 deadline: float, seconds: float) -> None:
        self.raw, self.request, self.deadline, self.seconds = raw, request, deadline, seconds
        self.inflate = (zlib.decompressobj(ENCODINGS[encoding]) if encoding in ENCODINGS
                        else None)

    def _refuse(self, reason: str, *, late: bool = False) -> BodyRefused:
        self.raw.close()
        return BodyRefused(reason, self.request, late=late)

    def __iter__(self) -> Iterator[bytes]:
        sent = kept = 0
        for chunk in self.raw:
            sent += len(chunk)
            if time.monotonic() > self.deadline:
                raise self._refuse(f"the response was still arriving after {self.seconds:g} s",
                                   late=True)
            if sent > MAX_BODY:
                raise self._refuse(f"the response body is more than {MAX_BODY} bytes")
            if self.inflate is not None:
                # at most one byte past the cap per call: a bomb never unfolds in memory
                chunk = self.inflate.decompress(chunk, MAX_BODY - kept + 1)
                if self.inflate.unconsumed_tail:
                    raise self._refuse(f"the response body is more than {MAX_BODY} bytes "
                                       "once decompressed")
            kept += len(chunk)
            if kept > MAX_BODY:
                raise self._refuse(f"the response body is more than {MAX_BODY} bytes "
                                   "once decompressed")
            yield chunk

    def close(self) -> None:
        self.raw.close()


class BoundedTransport(httpx.HTTPTransport):
    """Offers gzip and deflate only, decompresses them itself under the cap,
    and hands httpx the plain body."""

    def __init__(self, seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seconds = seconds

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["accept-encoding"] = "gzip, deflate"
        deadline = time.monotonic() + self.seconds
        response = super().handle_request(request)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        declared = response.headers.get("content-length", "")
        reason = None
        if encoding not in ("identity", *ENCODINGS):
            reason = f"the response is encoded as '{encoding[:40]}', which was not offered"
        elif declared.isdigit() and int(declared) > MAX_BODY:
            reason = f"the response body is {declared[:30]} bytes; more than {MAX_BODY}"
        if reason:
            response.close()
            raise BodyRefused(reason, request)
        response.stream = _Capped(response.stream, request, encoding, deadline, self.seconds)
        for header in ("content-encoding", "content-length"):
            if header in response.headers and encoding != "identity":
                del response.headers[header]
        return response


def bounded_client(seconds: float) -> httpx.Client:
    """A client whose every response obeys the limits above; ``seconds`` is
    both the per-read timeout and the deadline for the whole body."""
    return httpx.Client(transport=BoundedTransport(seconds), timeout=seconds,
                        follow_redirects=False)
