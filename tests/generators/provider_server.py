"""A small HTTP server on 127.0.0.1 speaking the parts of OpenAI's Images
API and Stability AI's Stable Image API that the backends use. Behaviour is
chosen by words in the prompt, and every request is counted, so tests can
check retries and that a resumed run never asks twice.

  refused words (``refuse``)  OpenAI: 400 content_policy_violation;
                              Stability: finish-reason CONTENT_FILTERED
  "moderated"                 Stability: 403 content_moderation
  "busy"                      429 with Retry-After: 1, then success
  "broken"                    500, always
  "slow"                      answers after 1.5 s
  "garbled"                   200 with a body that is not what was asked
  "badrequest"                400 (not a content policy): a hard error
  "hostile KIND"              a hostile answer (``HOSTILE``): wrong types, bombs,
                              drips, foreign URLs, the key echoed back
"""

from __future__ import annotations

import base64
import contextlib
import email.parser
import email.policy
import functools
import gzip
import hashlib
import io
import json
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

LIFETIME = 600  # seconds: the server stops itself even if a test forgets to
DRIP = 30  # seconds: the longest a dripping answer drips
HUGE = 512 * 2**20  # bytes: the most a "huge" answer sends before it stops by itself


def png(text: str, width: int, height: int) -> bytes:
    colour = tuple(hashlib.sha256(text.encode()).digest()[:3])
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@functools.cache
def huge_png() -> bytes:
    """13000 x 13000 (169 megapixels) in a few kilobytes: one bit per pixel."""
    buffer = io.BytesIO()
    Image.new("1", (13000, 13000)).save(buffer, format="PNG")
    return buffer.getvalue()


@functools.cache
def gzip_bomb() -> bytes:
    """256 MiB of zeros in about 256 KB of gzip."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(2**20)
    return b"".join(packer.compress(block) for _ in range(256)) + packer.flush()


def multipart(content_type: str, body: bytes) -> dict[str, str]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name and name != "none":
            fields[name] = part.get_content() if part.get_content_maintype() == "text" \
                else part.get_payload(decode=True).decode()
    return fields


class ProviderServer:
    def __init__(self, key: str = "sk-test-0123456789abcdef") -> None:
        self.key = key
        self.refuse = {"forbidden"}
        self.counts: Counter[str] = Counter()  # prompt -> requests
        self.fail_after: int | None = None  # answer 401 once this many images were made
        self.made = 0
        self.files: dict[str, bytes] = {}
        self.gets: Counter[str] = Counter()  # path -> GET requests
        self.foreign: str | None = None  # another server's URL, for "hostile foreign-url"
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"provider": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.timer = threading.Timer(LIFETIME, self.httpd.shutdown)
        self.timer.daemon = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ProviderServer:
        self.thread.start()
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()


def _document(handler: _Handler, document: object, status: int = 200,
              headers: dict[str, str] | None = None) -> None:
    handler._json(status, document, headers)


def _foreign(handler: _Handler, image: str, seen: int) -> None:
    _document(handler, {"data": [{"url": f"{handler.provider.foreign}/files/secret.png"}]})


HOSTILE = {
    "data-string": lambda h, image, seen: _document(h, {"data": "x"}),
    "data-null-item": lambda h, image, seen: _document(h, {"data": [None]}),
    "data-missing": lambda h, image, seen: _document(h, {"created": 1}),
    "top-level-list": lambda h, image, seen: _document(h, [1, 2]),
    "b64-integer": lambda h, image, seen: _document(h, {"data": [{"b64_json": 5}]}),
    "b64-invalid": lambda h, image, seen: _document(h, {"data": [{"b64_json": "!!!"}]}),
    "b64-not-image": lambda h, image, seen: _document(
        h, {"data": [{"b64_json": base64.b64encode(b"hello").decode()}]}),
    "url-integer": lambda h, image, seen: _document(h, {"data": [{"url": 5}]}),
    "url-file": lambda h, image, seen: _document(h, {"data": [{"url": "file:///etc/passwd"}]}),
    "foreign-url": _foreign,
    "revised-object": lambda h, image, seen: _document(
        h, {"data": [{"b64_json": image, "revised_prompt": {"a": 1}}]}),
    "key-echo": lambda h, image, seen: _document(
        h, {"data": [{"b64_json": image, "revised_prompt": f"drawn for {h.provider.key}"}]}),
    "retry-after-garbage": lambda h, image, seen: _document(
        h, {"error": {"message": "slow down"}}, 429, {"retry-after": "soon, maybe"}),
    "retry-after-huge": lambda h, image, seen: _document(
        h, {"error": {"message": "slow down"}}, 429, {"retry-after": "1e309"}),
    "deep-json": lambda h, image, seen: h._send(200, b"[" * 100_000),
    "huge-body": lambda h, image, seen: h._raw(
        "200 OK", ["content-type: application/json", "content-length: 10000000000"],
        h._zeros()),
    "huge-unannounced": lambda h, image, seen: h._raw(
        "200 OK", ["content-type: application/json"], h._zeros()),
    "gzip-bomb": lambda h, image, seen: h._raw(
        "200 OK", ["content-type: application/json", "content-encoding: gzip",
                   f"content-length: {len(gzip_bomb())}"], gzip_bomb()),
    "gzip-honest": lambda h, image, seen: h._raw(
        "200 OK", ["content-type: application/json", "content-encoding: gzip"],
        gzip.compress(json.dumps({"data": [{"b64_json": image}]}).encode())),
    "deflate-honest": lambda h, image, seen: h._raw(
        "200 OK", ["content-type: application/json", "content-encoding: deflate"],
        zlib.compress(json.dumps({"data": [{"b64_json": image}]}).encode())),
    "brotli": lambda h, image, seen: h._raw(
        "200 OK", ["content-type: application/json", "content-encoding: br"], b"x"),
    "slow-drip": lambda h, image, seen: h._raw(
        "200 OK", ["content-type: application/json", "content-length: 100000"],
        h._drip(b"x" * 100_000)),
    "slow-headers": lambda h, image, seen: h._slow_headers(),
    "seed-list": lambda h, image, seen: _document(
        h, {"image": image, "finish_reason": "SUCCESS", "seed": [1, 2]}),
    "seed-string": lambda h, image, seen: _document(
        h, {"image": image, "finish_reason": "SUCCESS", "seed": "abc"}),
    "seed-huge": lambda h, image, seen: _document(
        h, {"image": image, "finish_reason": "SUCCESS", "seed": 10**30}),
    "finish-object": lambda h, image, seen: _document(
        h, {"image": image, "finish_reason": {"a": 1}, "seed": 1}),
    "image-integer": lambda h, image, seen: _document(
        h, {"image": 7, "finish_reason": "SUCCESS", "seed": 1}),
}


class _Handler(BaseHTTPRequestHandler):
    provider: ProviderServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
            self.wfile.write(body)

    def _json(self, status: int, document: object, headers: dict[str, str] | None = None
              ) -> None:
        self._send(status, json.dumps(document).encode(), headers=headers)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        with self.provider.lock:
            self.provider.gets[self.path] += 1
        data = self.provider.files.get(self.path.rsplit("/", 1)[-1])
        self._send(200, data, "image/png") if data else self._json(404, {"error": "no file"})

    def _common(self, prompt: str, key: str, unauthorized: object) -> bool:
        """Auth, counting and the behaviours every endpoint shares; True when
        the request has been answered."""
        provider = self.provider
        with provider.lock:
            provider.counts[prompt] += 1
            seen = provider.counts[prompt]
            out_of_credit = (provider.fail_after is not None
                             and provider.made >= provider.fail_after)
        if key != provider.key or out_of_credit:
            self._json(401, unauthorized)
            return True
        if "busy" in prompt and seen == 1:
            self._json(429, {"error": {"message": "slow down"}}, headers={"retry-after": "1"})
            return True
        if "broken" in prompt:
            self._json(500, {"error": {"message": "internal error"}})
            return True
        if "slow" in prompt:
            time.sleep(1.5)
        if "garbled" in prompt:
            self._send(200, b"<html>not what you asked for", "application/json")
            return True
        if prompt.startswith("hostile "):
            kind = prompt.split()[1]
            image = base64.b64encode(png(prompt, 64, 64)).decode()
            if kind == "retry-after-garbage" and seen > 1:
                return False
            HOSTILE[kind](self, image, seen)
            return True
        return False

    def _raw(self, status: str, headers: list[str], body: object = b"") -> None:
        """Bytes as a hostile server writes them: lying headers, bodies that
        never end (each bounded: ``HUGE`` bytes or ``DRIP`` seconds)."""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(f"HTTP/1.1 {status}\r\n".encode() + "".join(
                f"{h}\r\n" for h in [*headers, "connection: close"]).encode() + b"\r\n")
            chunks = [body] if isinstance(body, bytes) else body
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        self.close_connection = True

    def _slow_headers(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(b"HTTP/1.1 200 OK\r\nx-filler: ")
            for chunk in self._drip(b"y" * 10_000):
                self.wfile.write(chunk)
                self.wfile.flush()
        self.close_connection = True

    def _drip(self, data: bytes, pause: float = 0.2):
        end = time.monotonic() + DRIP
        for byte in data:
            if time.monotonic() > end:
                return
            time.sleep(pause)
            yield bytes([byte])

    def _zeros(self):
        for _ in range(HUGE // 2**20):
            yield bytes(2**20)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length)
        key = self.headers.get("authorization", "").removeprefix("Bearer ")
        if self.path == "/v1/images/generations":
            self._openai(json.loads(body), key)
        elif self.path.startswith("/v2beta/stable-image/generate/"):
            self._stability(multipart(self.headers["content-type"], body), key)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def _openai(self, request: dict, key: str) -> None:
        prompt = request["prompt"]
        unauthorized = {"error": {"message": f"Incorrect API key provided: {key}. You can "
                                             "find your API key at the dashboard.",
                                  "type": "invalid_request_error", "code": "invalid_api_key"}}
        if self._common(prompt, key, unauthorized):
            return
        if any(word in prompt for word in self.provider.refuse):
            self._json(400, {"error": {
                "message": "Your request was rejected as a result of our safety system.",
                "type": "invalid_request_error", "code": "content_policy_violation"}})
            return
        if "badrequest" in prompt:
            self._json(400, {"error": {"message": "Invalid size", "type":
                                       "invalid_request_error", "code": None}})
            return
        width, height = map(int, request["size"].split("x"))
        data = huge_png() if "hugeimage" in prompt else png(prompt, width, height)
        item: dict[str, object] = {}
        if request["model"] == "dall-e-3":
            item["revised_prompt"] = f"A detailed, photorealistic image of {prompt}, soft light"
        if request.get("response_format") == "url":
            name = hashlib.sha256(data + prompt.encode()).hexdigest()[:16] + ".png"
            self.provider.files[name] = data
            item["url"] = f"{self.provider.url}/files/{name}"
        else:
            item["b64_json"] = base64.b64encode(data).decode()
        with self.provider.lock:
            self.provider.made += 1
        self._json(200, {"created": int(time.time()), "data": [item]})

    def _stability(self, form: dict[str, str], key: str) -> None:
        prompt = form["prompt"]
        unauthorized = {"name": "unauthorized", "errors": [f"invalid API key {key}"]}
        if self._common(prompt, key, unauthorized):
            return
        if "moderated" in prompt:
            self._json(403, {"name": "content_moderation", "errors": [
                "Your request was flagged by our content moderation system."]})
            return
        if "badrequest" in prompt:
            self._json(400, {"name": "bad_request", "errors": ["aspect_ratio: invalid"]})
            return
        ratio = form.get("aspect_ratio", "1:1")
        w, h = map(int, ratio.split(":"))
        data = png(prompt, 64 * w, 64 * h)
        finish = ("CONTENT_FILTERED" if any(word in prompt for word in self.provider.refuse)
                  else "SUCCESS")
        seed = form.get("seed", "0")
        seed = seed if seed != "0" else "1234567"
        with self.provider.lock:
            self.provider.made += 1
        if self.headers.get("accept") == "application/json":
            self._json(200, {"image": base64.b64encode(data).decode(), "finish_reason": finish,
                             "seed": int(seed)})
        else:
            self._send(200, data, "image/png", headers={"finish-reason": finish, "seed": seed})
