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
)

SIZES = {"dall-e-2": ("256x256", "512x512", "1024x1024"),
         "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
         "gpt-image-1": ("1024x1024", "1536x1024", "1024x1536")}
QUALITIES = {"dall-e-2": ("standard",), "dall-e-3": ("standard", "hd"),
             "gpt-image-1": ("low", "medium", "high")}
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
        # our own retries (with Retry-After) replace the client's
        self.client = openai.OpenAI(api_key=self.key, max_retries=0, timeout=self.timeout)

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
            response = self.client.images.generate(**self._arguments(request))
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
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise Retry(type(exc).__name__) from None
        except (openai.APIResponseValidationError, ValueError) as exc:  # JSONDecodeError too
            raise Retry(f"malformed response ({type(exc).__name__})") from None
        if not getattr(response, "data", None):
            raise Retry("malformed response (no image in it)")
        item = response.data[0]
        if item.b64_json:
            try:
                data = base64.b64decode(item.b64_json, validate=True)
            except ValueError:
                raise Retry("malformed response (b64_json is not base64)") from None
        elif item.url:
            try:
                fetched = httpx.get(item.url, timeout=self.timeout)
                fetched.raise_for_status()
            except httpx.HTTPError as exc:
                raise Retry(f"image URL fetch failed ({type(exc).__name__})") from None
            data = fetched.content
        else:
            raise Retry("malformed response (neither b64_json nor url)")
        if item.revised_prompt is not None:
            extra["revised_prompt"] = item.revised_prompt
        return Outcome(decode_image(data), "ok", extra=extra)

    def describe(self) -> dict[str, Any]:
        return self._describe(base_url=str(self.client.base_url), quality=self.quality,
                              style=self.style, response_format=self.response_format,
                              sizes=list(SIZES[self.model]), reproducible_by_seed=False,
                              ignored_parameters=IGNORED,
                              note="OpenAI takes no seed: not reproducible by seed")


def _message(exc: Any) -> str:
    """The provider's own message (the client's wraps the whole body)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:300]
    return str(getattr(exc, "message", exc))[:300]
