"""Stability AI's Stable Image REST API (``--model stability:core``, ``ultra``,
``sd3``, ``sd3-turbo``, ``sd3.5-large``, ...), multipart form over httpx,
key from ``STABILITY_API_KEY``, base URL from ``STABILITY_API_BASE``.

Stability takes a seed and returns the one it used (both recorded).
``finish-reason: CONTENT_FILTERED`` is the status ``filtered`` with the
returned (obscured) image kept; a prompt refused by moderation (HTTP 403) is
``filtered`` without an image.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any, ClassVar

from audit.api.generator import GenerationRequest
from audit.errors import UsageError
from audit.generators.remote import (
    Outcome,
    ProviderError,
    RemoteGenerator,
    Retry,
    decode_image,
    price_table,
    retry_after,
    text_field,
    transport_failure,
)

DEFAULT_BASE = "https://api.stability.ai"
# service -> (endpoint, model form field or None)
SERVICES = {"core": ("core", None), "ultra": ("ultra", None),
            "sd3": ("sd3", "sd3.5-large"), "sd3-turbo": ("sd3", "sd3.5-large-turbo"),
            **{m: ("sd3", m) for m in ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium",
                                       "sd3-large", "sd3-large-turbo", "sd3-medium")}}
RATIOS = ("1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")
MAX_SEED = 4294967294


def aspect_ratio(width: int, height: int) -> str:
    """The accepted aspect ratio nearest to the suite's (in log ratio)."""
    def distance(ratio: str) -> float:
        w, h = map(int, ratio.split(":"))
        return abs(math.log(w / h) - math.log(width / height))

    return min(RATIOS, key=distance)


class StabilityGenerator(RemoteGenerator):
    name = "stability"
    provider = "stability"
    example_model = "core"
    key_variable = "STABILITY_API_KEY"
    options: ClassVar[dict[str, str]] = {
        **RemoteGenerator.options,
        "accept": "image (default: image/* with finish-reason and seed headers) | json",
    }

    def __init__(self, model: str, *, accept: str = "image", **common: Any) -> None:
        import os

        super().__init__(model, **common)
        if self.model not in SERVICES:
            raise UsageError(f"unknown Stability service '{self.model}' (known: "
                             f"{', '.join(SERVICES)})")
        if accept not in ("image", "json"):
            raise UsageError(f"-M accept={accept}: image or json")
        self.accept = accept
        self.endpoint, self.form_model = SERVICES[self.model]
        self.base = os.environ.get("STABILITY_API_BASE", DEFAULT_BASE).rstrip("/")
        self._client_module("httpx")
        from audit.generators.bounded_http import bounded_client

        self.client = bounded_client(self.timeout)

    def listed_price(self, request: GenerationRequest) -> float:
        return float(price_table()["stability"][self.form_model or self.endpoint])

    def _form(self, request: GenerationRequest) -> dict[str, str]:
        form = {"prompt": request.prompt, "output_format": "png",
                "aspect_ratio": aspect_ratio(request.width, request.height),
                "seed": str(request.seed % (MAX_SEED + 1))}
        if request.negative_prompt:
            form["negative_prompt"] = request.negative_prompt
        if self.form_model:
            form["model"] = self.form_model
        return form

    def _call(self, request: GenerationRequest) -> Outcome:
        import httpx

        form = self._form(request)
        extra: dict[str, Any] = {"aspect_ratio": form["aspect_ratio"],
                                 "seed_sent": int(form["seed"]),
                                 "price_usd": self.price(request)}
        accept = "image/*" if self.accept == "image" else "application/json"
        try:
            response = self.client.post(
                f"{self.base}/v2beta/stable-image/generate/{self.endpoint}",
                headers={"authorization": f"Bearer {self.key}", "accept": accept},
                files={"none": ("", b"")}, data=form)
        except httpx.TimeoutException:
            raise Retry("timeout") from None
        except httpx.HTTPError as exc:
            raise transport_failure(exc) from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise Retry(f"{status}", retry_after(response.headers))
        if status == 403 and "moderation" in response.text.lower():
            return Outcome(None, "filtered", f"refused by Stability: {_message(response)}",
                           billed=False, extra=extra)
        if status != 200:
            raise ProviderError(f"stability: {status} {_message(response)}")
        if self.accept == "image":
            finish = response.headers.get("finish-reason", "SUCCESS")
            seed = response.headers.get("seed")
            data = response.content
        else:
            try:
                body = response.json()
            except (ValueError, RecursionError):
                raise Retry("malformed response (not JSON)") from None
            if not isinstance(body, dict):
                raise Retry("malformed response (not a JSON object)")
            finish = text_field(body, "finish_reason", "") or "SUCCESS"
            seed, image_text = body.get("seed"), text_field(body, "image", "")
            try:
                data = base64.b64decode(image_text or "", validate=True)
            except ValueError:
                raise Retry("malformed response (image is not base64)") from None
        extra.update(finish_reason=finish[:100], **_reported_seed(seed))
        image = decode_image(data)
        if finish == "CONTENT_FILTERED":
            return Outcome(image, "filtered", "CONTENT_FILTERED (the returned image is kept)",
                           extra=extra)
        if finish != "SUCCESS":
            return Outcome(image, "error", f"finish reason {finish}", extra=extra)
        return Outcome(image, "ok", extra=extra)

    def describe(self) -> dict[str, Any]:
        return self._describe(base_url=self.base, endpoint=self.endpoint,
                              form_model=self.form_model, accept=self.accept,
                              reproducible_by_seed=True,
                              ignored_parameters=["steps", "guidance", "scheduler"],
                              note="the seed sent and the seed Stability reports are "
                                   "recorded per image")


def _reported_seed(value: object) -> dict[str, Any]:
    """The seed Stability says it used, when it is one (0..MAX_SEED); anything
    else is recorded as missing with what was sent, never trusted or fatal."""
    text = str(value)[:40] if value is not None else ""
    if isinstance(value, int | str) and not isinstance(value, bool) and text.isascii() \
            and text.isdigit() and int(text) <= MAX_SEED:
        return {"seed": int(text)}
    if value in (None, ""):
        return {"seed": None}
    return {"seed": None, "seed_unreadable": f"the provider reported seed {text!r}, not "
                                              f"an integer in 0..{MAX_SEED}"}


def _message(response: Any) -> str:
    """The provider's error text: its JSON 'errors'/'message', else the body."""
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return response.text[:300]
    if isinstance(body, dict):
        parts = body.get("errors") or [body.get("message") or body.get("name") or ""]
        return "; ".join(str(p) for p in parts)[:300]
    return str(body)[:300]
