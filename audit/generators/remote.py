"""What every paid, remote image API backend shares: bounded concurrency,
retries with backoff that honour Retry-After, content filtering as a status,
prices from a data table, and an API key that never leaves memory.

A backend implements ``_call`` (one request, one attempt) and raises
``Retry`` for what a later attempt may fix (429, 5xx, timeouts, broken
bodies) or ``ProviderError`` for what it will not (401, a bad request); the
rest is here. Results are yielded as they arrive (``iter_generate``), so the
generate stage stores each image the moment it is paid for.
"""

from __future__ import annotations

import email.utils
import io
import math
import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

from audit.api.generator import GeneratedImage, GenerationRequest, HostedGenerator, Status
from audit.errors import UsageError

REDACTED = "[redacted]"
MAX_WAIT = 120.0  # seconds: the longest single backoff or Retry-After honoured


class ProviderError(UsageError):
    """The provider refused in a way retrying will not fix: the run stops."""


class Retry(Exception):  # noqa: N818 - a signal, not an error to report
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class Unusable(Exception):  # noqa: N818 - a signal, not an error to report
    """A response paid for whose image cannot be kept: that image's error,
    not retried (the same request would bring the same image)."""


@dataclass
class Outcome:
    image: Any | None  # PIL image
    status: Status
    error: str | None = None
    billed: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # revised_prompt, seed, ...


def retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date);
    anything else is no hint, and the usual backoff applies."""
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = moment.timestamp() - time.time() if moment else float("nan")
    return max(0.0, seconds) if math.isfinite(seconds) else None


def transport_failure(exc: BaseException) -> Exception:
    """What a failed exchange means for its image: a body past a limit is that
    image's error, not retried (the same request brings the same body), unless
    it was only late; anything else a later attempt may fix."""
    from audit.generators.bounded_http import body_refusal

    refused = body_refusal(exc)
    if refused is None:
        return Retry(type(exc).__name__)
    return Retry(refused.reason) if refused.late else Unusable(refused.reason)


def text_field(document: dict[str, Any], key: str, where: str) -> str | None:
    """A field the provider may send as text, or not at all; any other type is
    a malformed response, never a value passed on."""
    value = document.get(key)
    if value is None or isinstance(value, str):
        return value
    raise Retry(f"malformed response ({where}{key} is {type(value).__name__}, not text)")


def allowed_url(url: str, base: str, hosts: Sequence[str]) -> bool:
    """An image may be fetched from the provider's own host (scheme and port
    as configured) or from its documented image hosts over https; nothing
    else, so a response cannot point us at another service."""
    from urllib.parse import urlsplit

    try:
        target, own = urlsplit(url), urlsplit(base)
        port, own_port = target.port, own.port
    except ValueError:
        return False
    if (target.scheme, target.hostname, port) == (own.scheme, own.hostname, own_port):
        return target.scheme in ("https", "http")
    return target.scheme == "https" and target.hostname in hosts and port in (None, 443)


def decode_image(data: bytes) -> Any:
    from PIL import Image

    from audit.stages.score import MAX_PIXELS

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:  # from the header, before decoding
                raise Unusable(f"the provider's image is {image.width}x{image.height} "
                               f"pixels; more than {MAX_PIXELS} is refused")
            return image.convert("RGB")
    except Unusable:
        raise
    except Image.DecompressionBombError:  # Pillow's own guard, past twice its limit
        raise Unusable(f"the provider's image is past Pillow's decompression-bomb limit; "
                       f"more than {MAX_PIXELS} pixels is refused") from None
    except Exception as exc:  # PIL raises several types for bad bytes
        raise Retry(f"the image in the response does not decode ({type(exc).__name__})"
                    ) from None


@cache
def price_table() -> dict[str, Any]:
    import yaml

    from audit.paths import package_data_dir

    return yaml.safe_load((package_data_dir() / "prices.yaml").read_text())


class RemoteGenerator(HostedGenerator):
    """Base of the API backends (``openai:MODEL``, ``stability:SERVICE``)."""

    provider: ClassVar[str]  # the provider's name in messages and run.json
    key_variable: ClassVar[str]
    options: ClassVar[dict[str, str]] = {
        "concurrency": "requests in flight at once (default 4; --concurrency)",
        "retries": "retries per image on 429 / 5xx / timeouts / broken bodies (default 4)",
        "timeout": "seconds per request (default 120)",
        "backoff": "first backoff in seconds, doubled per retry, with jitter (default 1)",
        "price": "USD per image, instead of the price table",
    }

    def __init__(self, model: str, *, device: str = "auto", dtype: str = "auto",
                 concurrency: int = 4, retries: int = 4, timeout: float = 120.0,
                 backoff: float = 1.0, price: float | None = None) -> None:
        import os

        self.model = model.split(":", 1)[1]
        self.concurrency, self.retries = int(concurrency), int(retries)
        self.timeout, self.backoff = float(timeout), float(backoff)
        if self.concurrency < 1 or self.retries < 0 or self.timeout <= 0 or self.backoff < 0:
            raise UsageError("concurrency must be >= 1, retries >= 0, timeout > 0, "
                             "backoff >= 0")
        self.key = os.environ.get(self.key_variable, "")
        if not self.key:
            raise UsageError(f"{self.provider} needs an API key in ${self.key_variable}")
        self.fixed_price = None if price is None else float(price)
        self._stop = threading.Event()

    def _client_module(self, name: str) -> Any:
        """The HTTP client library, which only the [api] extra installs."""
        import importlib

        try:
            return importlib.import_module(name)
        except ImportError:
            raise UsageError(f"{self.provider}: models need the [api] extra: "
                             "pip install 't2i-audit[api]'") from None

    # -- what a backend provides ------------------------------------------------
    def _call(self, request: GenerationRequest) -> Outcome:
        raise NotImplementedError

    def listed_price(self, request: GenerationRequest) -> float:
        """USD per image from the price table (data/prices.yaml)."""
        raise NotImplementedError

    # -- shared behaviour ---------------------------------------------------------
    def price(self, request: GenerationRequest) -> float:
        return self.fixed_price if self.fixed_price is not None else self.listed_price(request)

    def redact(self, text: str) -> str:
        """The key, and the fragments of it providers echo ("sk-...abcd"),
        never reach a message, log or file."""
        if not text or not self.key:
            return text
        text = text.replace(self.key, REDACTED)
        if len(self.key) >= 12:
            for fragment in (self.key[:8], self.key[-6:]):
                text = text.replace(fragment, REDACTED)
        return text

    def default_batch_size(self, request: GenerationRequest) -> int:
        return max(8, 4 * self.concurrency)

    def _call_within(self, request: GenerationRequest) -> Outcome:
        """``_call`` under a deadline for the whole exchange: a server that
        drips its headers a byte at a time gets no more than ``timeout``
        (the per-read timeout never fires on it). The thread left behind is a
        daemon, and its body reads stop at the transport's own deadline."""
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["outcome"] = self._call(request)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                box["error"] = exc

        thread = threading.Thread(target=target, daemon=True,
                                  name=f"{self.provider}-exchange")
        thread.start()
        thread.join(self.timeout + 1.0)
        if thread.is_alive():
            raise Retry(f"no complete answer within {self.timeout:g} s")
        if "error" in box:
            raise box["error"]
        return box["outcome"]

    def _said(self, outcome: Outcome) -> Outcome:
        """Everything the provider sent back, redacted: a response can echo
        the key (in a rewritten prompt, say), and what we store is kept."""
        for key, value in outcome.extra.items():
            if isinstance(value, str):
                outcome.extra[key] = self.redact(value)
        if outcome.error:
            outcome.error = self.redact(outcome.error)
        return outcome

    def _wait(self, attempt: int, hint: float | None) -> None:
        delay = hint if hint is not None else self.backoff * 2**attempt * random.uniform(0.5,
                                                                                          1.5)
        self._stop.wait(min(MAX_WAIT, delay))

    def _one(self, request: GenerationRequest, index: int, size: int) -> GeneratedImage:
        start = time.perf_counter()
        reasons = []
        for attempt in range(self.retries + 1):
            if self._stop.is_set():
                break
            try:
                outcome = self._said(self._call_within(request))
            except Retry as exc:
                reasons.append(self.redact(exc.reason))
                if attempt < self.retries:
                    self._wait(attempt, exc.retry_after)
                continue
            except Unusable as exc:
                return GeneratedImage(request, None, "error", self.redact(str(exc)),
                                      time.perf_counter() - start, index, size,
                                      extra={"attempts": attempt + 1, "billed": True})
            except ProviderError as exc:
                self._stop.set()
                raise ProviderError(self.redact(exc.message) + " (the run stopped; images "
                                    "already saved are kept: fix the cause and rerun the "
                                    "same command to resume)") from None
            outcome.extra.update(attempts=attempt + 1, billed=outcome.billed)
            return GeneratedImage(request, outcome.image, outcome.status, outcome.error,
                                  time.perf_counter() - start, index, size,
                                  extra=outcome.extra)
        message = f"gave up after {len(reasons)} attempt(s): " + "; ".join(reasons[-3:])
        return GeneratedImage(request, None, "error", message[:500],
                              time.perf_counter() - start, index, size,
                              extra={"attempts": len(reasons), "billed": False})

    def iter_generate(self, requests: Sequence[GenerationRequest]) -> Iterator[GeneratedImage]:
        """Results in the order they arrive, at most ``concurrency`` in flight.
        A ProviderError stops new requests, lets those in flight finish (they
        are paid for), yields them, then raises."""
        failure: ProviderError | None = None
        with ThreadPoolExecutor(max_workers=self.concurrency,
                                thread_name_prefix=f"{self.provider}-request") as pool:
            queue = list(enumerate(requests))
            running: set[Any] = set()
            while queue or running:
                while queue and len(running) < self.concurrency and failure is None:
                    index, request = queue.pop(0)
                    running.add(pool.submit(self._one, request, index, len(requests)))
                if not running:
                    break
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        yield future.result()
                    except ProviderError as exc:
                        failure = failure or exc
                        queue.clear()
        if failure is not None:
            raise failure

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedImage]:
        return sorted(self.iter_generate(requests), key=lambda r: r.batch_index)

    def _describe(self, **details: Any) -> dict[str, Any]:
        return {"id": f"{self.provider}:{self.model}", "backend": self.provider,
                "provider": self.provider, "model": self.model,
                "api_key": f"from ${self.key_variable} (never recorded)",
                "concurrency": self.concurrency, "retries": self.retries,
                "timeout_s": self.timeout, "prices": price_table()["source"], **details}
