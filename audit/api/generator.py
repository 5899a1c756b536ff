"""The ``Generator`` interface: one image per request, each from its own seed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

Status = Literal["ok", "blank", "nan", "filtered", "error"]
STATUSES: tuple[Status, ...] = ("ok", "blank", "nan", "filtered", "error")


@dataclass(frozen=True)
class GenerationRequest:
    """Everything an image depends on besides the model."""

    image_id: str
    prompt: str
    negative_prompt: str
    seed: int
    steps: int
    guidance: float
    width: int
    height: int
    scheduler: str

    def batch_key(self) -> tuple[int, float, int, int, str]:
        """Requests with equal keys can share one pipeline call."""
        return (self.steps, self.guidance, self.width, self.height, self.scheduler)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GeneratedImage:
    request: GenerationRequest
    image: Any | None  # PIL.Image.Image, or None for nan / error
    status: Status
    error: str | None
    seconds: float
    batch_index: int
    batch_size: int
    sub_batch: int = 0  # which pipeline call inside one generate() call (after OOM splits)
    # What a remote provider said about this image: revised_prompt, the seed it
    # used, finish reason, attempts, whether it was billed, its price.
    extra: dict[str, Any] = field(default_factory=dict)
    worker: str | None = None  # which process made it, when not this one (a Ray actor)


class Generator(ABC):
    """A text-to-image backend. ``generate`` is called with requests that share
    a batch key; the backend may split them (e.g. on out-of-memory) but returns
    exactly one result per request, in order."""

    name: ClassVar[str]
    # Backend-specific options (``-M KEY=VALUE`` / ``model_options={...}``):
    # key -> one-line help; passed to the constructor as keywords.
    options: ClassVar[dict[str, str]] = {}
    # What a suite made on the command line (--prompt / --template) takes from
    # this model where the user gave nothing: "generation" (size, steps,
    # guidance, scheduler it was made for), and the "attributes", "reference"
    # and "scorer_options" that fit it. Written into the run's suite.yaml.
    suite_defaults: ClassVar[dict[str, Any]] = {}

    @abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedImage]: ...

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Provenance for run.json: ids, revisions, hashes, classes, dtype."""

    def prepare(self, request: GenerationRequest) -> None:
        """Get ready for requests like this one (e.g. swap the scheduler), so that
        ``describe()`` records what will actually be used."""

    def default_batch_size(self, request: GenerationRequest) -> int:
        return 4

    def sampler_label(self) -> str:
        """The sampler's display name for the PNG ``parameters`` chunk, for the
        scheduler ``prepare`` set up."""
        return "default"

    def computes_on_cpu(self) -> bool:
        """Whether images are computed on this machine's CPU cores. Then
        scoring alongside generation only takes cores from it (measured on
        2 cores: the toy-world demo's generation 40 s alone, 73 s with the
        toy CLIP scoring each batch beside it), so a run scores afterwards."""
        return False

    def runtime(self) -> dict[str, Any] | None:
        """What the last run learned about the backend (e.g. compile times),
        recorded in run.json's history; None when there is nothing to say."""
        return None

    def close(self) -> None:
        """Release what the backend holds outside this process (actors, sessions)."""


# Optional capabilities. The generate stage asks ``isinstance`` of these,
# never ``hasattr``: a backend says what it can do by the class it derives from.


class HostedGenerator(Generator):
    """A provider's API, addressed as ``NAME:MODEL`` on the command line
    (``openai:dall-e-3``) where NAME is the registered name. Its images are
    paid for and arrive one by one, so the stage stores each as it arrives
    (a killed run must not pay twice); steps, sampler and guidance are the
    provider's, never claimed in the PNG; its GPU is not metered here."""

    example_model: ClassVar[str]  # shown when the model part is missing: "dall-e-3"

    @abstractmethod
    def iter_generate(self, requests: Sequence[GenerationRequest]) -> Iterator[GeneratedImage]:
        """Results in the order they arrive."""

    @abstractmethod
    def price(self, request: GenerationRequest) -> float:
        """Estimated USD for one image, checked against ``--max-cost`` before
        anything is requested."""


class GeneratorPool(Generator):
    """Batches computed elsewhere (a Ray cluster); this process stores them."""

    cluster: dict[str, Any]  # what run.json's ``config.ray`` records

    @abstractmethod
    def map_batches(self, batches: Sequence[list[GenerationRequest]], *,
                    progress: Any | None = None) -> Iterator[tuple[int, list[GeneratedImage]]]:
        """(batch number, results) in the order batches finish."""
