"""OpenAI Images (``--model openai:dall-e-3``, ``dall-e-2``, ``gpt-image-1``)
through the official ``openai`` client, which reads ``OPENAI_API_KEY`` and
``OPENAI_BASE_URL``.

OpenAI takes no seed: images are not reproducible by seed, and the record
says so. DALL-E 3 rewrites every prompt before drawing it; the rewritten
prompt it returns is recorded per image, since it is what was drawn. A
content-policy refusal is the status ``filtered`` with the provider's
message, never a dropped image.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

from audit.api.generator import GenerationRequest
from audit.errors import UsageError
from audit.generators.remote import (
    Outcome,
    ProviderError,
    RemoteGenerator,
    Retry,
    Unusable,
    allowed_url,
    decode_image,
    price_table,
    retry_after,
    text_field,
    transport_failure,
)

SIZES = {"dall-e-2": ("256x256", "512x512", "1024x1024"),
         "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
         "gpt-image-1": ("1024x1024", "1536x1024", "1024x1536")}
QUALITIES = {"dall-e-2": ("standard",), "dall-e-3": ("standard", "hd"),
             "gpt-image-1": ("low", "medium", "high")}
# where OpenAI serves the images of url responses (besides the API's own host)
IMAGE_HOSTS = ("oaidalleapiprodscus.blob.core.windows.net",)
REFUSALS = ("content_policy_violation", "moderation_blocked")
IGNORED = ["seed", "negative_prompt", "steps", "guidance", "scheduler"]


def nearest_size(width: int, height: int, sizes: tuple[str, ...]) -> str:
    """The allowed size closest in aspect ratio (then in area) to the suite's."""
    def distance(size: str) -> tuple[float, float]:
        w, h = map(int, size.split("x"))
        return abs(w / h - width / height), abs(w * h - width * height)

    return min(sizes, key=distance)


class OpenAIGenerator(RemoteGenerator):
    name = "openai"
    provider = "openai"
    example_model = "dall-e-3"
    key_variable = "OPENAI_API_KEY"
    options: ClassVar[dict[str, str]] = {
        **RemoteGenerator.options,
        "quality": "standard | hd (dall-e-3); low | medium | high (gpt-image-1)",
        "style": "vivid | natural (dall-e-3 only)",
        "response_format": "b64_json (default) | url (dall-e-2/3: the image is fetched)",
    }

    def __init__(self, model: str, *, quality: str | None = None, style: str | None = None,
                 response_format: str = "b64_json", **common: Any) -> None:
        super().__init__(model, **common)
        if self.model not in SIZES:
            raise UsageError(f"unknown OpenAI image model '{self.model}' (known: "
                             f"{', '.join(SIZES)})")
        self.quality = quality or QUALITIES[self.model][0]
        if self.quality not in QUALITIES[self.model]:
            raise UsageError(f"-M quality={self.quality}: {self.model} takes "
                             f"{', '.join(QUALITIES[self.model])}")
        if style is not None and self.model != "dall-e-3":
            raise UsageError("-M style is for dall-e-3 only")
        if style not in (None, "vivid", "natural"):
            raise UsageError(f"-M style={style}: vivid or natural")
        if response_format not in ("b64_json", "url") or (
                response_format == "url" and self.model == "gpt-image-1"):
            raise UsageError(f"-M response_format={response_format}: b64_json, or url for "
                             "dall-e-2/3")
        self.style, self.response_format = style, response_format
        openai = self._client_module("openai")
        from audit.generators.bounded_http import bounded_client

        # our own retries (with Retry-After) replace the client's; bodies are bounded
        self.http = bounded_client(self.timeout)
        self.client = openai.OpenAI(api_key=self.key, max_retries=0, timeout=self.timeout,
                                    http_client=self.http)

    def size(self, request: GenerationRequest) -> str:
        return nearest_size(request.width, request.height, SIZES[self.model])

    def listed_price(self, request: GenerationRequest) -> float:
        return float(price_table()["openai"][self.model][self.quality][self.size(request)])

    def _arguments(self, request: GenerationRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {"model": self.model, "prompt": request.prompt, "n": 1,
                                     "size": self.size(request)}
        if self.model == "dall-e-3" or self.model == "gpt-image-1":
            arguments["quality"] = self.quality
        if self.style:
            arguments["style"] = self.style
        if self.model != "gpt-image-1":
            arguments["response_format"] = self.response_format
        return arguments

    def _call(self, request: GenerationRequest) -> Outcome:
        import httpx
        import openai

        extra: dict[str, Any] = {"size": self.size(request), "seed": None,
                                 "price_usd": self.price(request)}
        try:
            with self.client.images.with_streaming_response.generate(
                    **self._arguments(request)) as response:
                body = response.read()
        except openai.BadRequestError as exc:
            if exc.code in REFUSALS or "safety system" in _message(exc):
                return Outcome(None, "filtered", f"refused by OpenAI: {_message(exc)}",
                               billed=False, extra=extra)
            raise ProviderError(f"openai: {exc.status_code} {_message(exc)}") from None
        except (openai.RateLimitError, openai.InternalServerError) as exc:
            raise Retry(f"{exc.status_code} {type(exc).__name__}",
                        retry_after(exc.response.headers)) from None
        except openai.APIStatusError as exc:
            if exc.status_code in (408, 409) or exc.status_code >= 500:
                raise Retry(f"{exc.status_code}", retry_after(exc.response.headers)) from None
            raise ProviderError(f"openai: {exc.status_code} {_message(exc)}") from None
        except (openai.APIError, httpx.HTTPError) as exc:
            raise transport_failure(exc) from None
        item = _first_item(body)
        b64, url = text_field(item, "b64_json", "data[0]."), text_field(item, "url", "data[0].")
        if b64:
            try:
                data = base64.b64decode(b64, validate=True)
            except ValueError:
                raise Retry("malformed response (b64_json is not base64)") from None
        elif url and self.response_format != "url":
            raise Unusable("the response carries an image URL though b64_json was asked "
                           "for; it was not fetched")
        elif url:
            data = self._fetch(url)
        else:
            raise Retry("malformed response (neither b64_json nor url)")
        revised = text_field(item, "revised_prompt", "data[0].")
        if revised is not None:
            extra["revised_prompt"] = revised
        return Outcome(decode_image(data), "ok", extra=extra)

    def _fetch(self, url: str) -> bytes:
        import httpx

        if not allowed_url(url, str(self.client.base_url), IMAGE_HOSTS):
            raise Unusable("the response's image URL is not on the provider's own hosts; "
                           "it was not fetched")
        try:
            fetched = self.http.get(url)
            fetched.raise_for_status()
        except httpx.HTTPError as exc:
            raise transport_failure(exc) from None
        return fetched.content

    def describe(self) -> dict[str, Any]:
        return self._describe(base_url=str(self.client.base_url), quality=self.quality,
                              style=self.style, response_format=self.response_format,
                              sizes=list(SIZES[self.model]), reproducible_by_seed=False,
                              ignored_parameters=IGNORED,
                              note="OpenAI takes no seed: not reproducible by seed")


def _first_item(body: bytes) -> dict[str, Any]:
    """The first image of a response, checked for shape before any field is
    read: a list of objects under ``data``."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise Retry("malformed response (not JSON)") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, list) or not data:
        raise Retry("malformed response (no list of images under 'data')")
    if not isinstance(data[0], dict):
        raise Retry(f"malformed response (data[0] is {type(data[0]).__name__}, not an "
                    "object)")
    return data[0]


def _message(exc: Any) -> str:
    """The provider's own message (the client's wraps the whole body)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:300]
    return str(getattr(exc, "message", exc))[:300]
