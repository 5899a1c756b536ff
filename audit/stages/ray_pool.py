"""Generation and scoring on a Ray cluster: pools of actors, each holding
the real backend or scorers (loaded once), fed whole batches by the driver.

The driver keeps every write: actors return images or score rows, and the
stages store them exactly as a single-process run does (PNG, journal,
tables). One writer means a batch Ray retries after an actor died is still
written once, the run directory needs no shared storage for PNG writes from
many nodes, and the files are byte-identical to a single-process run's.
Fault tolerance is Ray's own: actors restart (``max_restarts``) and their
unfinished calls are retried (``max_task_retries``). Scoring actors read the
run's PNGs, so on a cluster the run lives on shared storage.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from audit.api.generator import GeneratedImage, GenerationRequest, GeneratorPool
from audit.api.scorer import ScoreEntry, ScoreRows, ScorerPool
from audit.common.progress import Notes, Progress
from audit.errors import UsageError

IN_FLIGHT_PER_ACTOR = 2
NAMESPACE = "t2i-audit"


def dispatch(actors: Sequence[Any], method: str, payloads: Sequence[Any], *,
             every: Callable[[], None] | None = None) -> Iterator[tuple[int, Any]]:
    """(index, result) of ``actor.method(payload)`` for every payload, as they
    finish: actors take payloads round-robin, at most two each in flight (one
    computing, one queued, so no actor waits on the driver). ``every`` runs
    about every 5 seconds."""
    import time

    import ray

    queue = list(enumerate(payloads))
    running: dict[Any, int] = {}
    turn, checked = 0, 0.0
    while queue or running:
        while queue and len(running) < IN_FLIGHT_PER_ACTOR * len(actors):
            index, payload = queue.pop(0)
            running[getattr(actors[turn % len(actors)], method).remote(payload)] = index
            turn += 1
        done, _ = ray.wait(list(running), num_returns=1, timeout=5.0)
        if every is not None and time.monotonic() - checked > 5:
            every()
            checked = time.monotonic()
        for ref in done:
            yield running.pop(ref), ray.get(ref)


def connect(address: str) -> dict[str, Any]:
    """``local``: a private Ray instance on this machine; ``auto``: the
    cluster this machine belongs to; else a cluster address (ray://...)."""
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs the [ray] extra: pip install 't2i-audit[ray]'") from None
    if not ray.is_initialized():
        if address == "local":
            ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False,
                     namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
        else:
            try:
                ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
            except (ConnectionError, RuntimeError) as exc:
                raise UsageError(f"--ray {address}: cannot connect to a Ray cluster "
                                 f"({str(exc)[:200]})") from None
    resources = ray.cluster_resources()
    return {"address": address, "ray": ray.__version__,
            "nodes": len([n for n in ray.nodes() if n.get("Alive")]),
            "cpus": int(resources.get("CPU", 0)), "gpus": int(resources.get("GPU", 0))}


def pool_size(cluster: dict[str, Any], actors: int | None, threads: int, address: str
              ) -> tuple[int, int]:
    """(actors, torch threads per actor). One actor per GPU; without GPUs one
    per ``threads`` CPUs, each with the driver's thread count, so its pixels
    are the bytes a single-process run makes (CPU float reductions depend on
    the thread count). More CPU actors on this machine share its threads;
    their images then equal a single-process run at that thread count."""
    if cluster["gpus"]:
        return actors or cluster["gpus"], threads
    if actors is None:
        return max(1, cluster["cpus"] // max(1, threads)), threads
    if address == "local":
        return actors, max(1, threads // actors)
    return actors, threads


class _GenerateWorker:
    """One actor: the backend, built once, and the node it runs on."""

    def __init__(self, model: str, device: str, dtype: str, options: dict[str, Any],
                 threads: int) -> None:
        import ray
        import torch

        from audit.common.devices import quiet_libraries
        from audit.generators import make_generator

        # CPU pixels depend on the thread count (float reductions): use the driver's
        torch.set_num_threads(threads)
        quiet_libraries()
        self.generator = make_generator(model, device=device, dtype=dtype, options=options)
        context = ray.get_runtime_context()
        self.name = f"ray:{context.get_node_id()[:12]}/{context.get_actor_id()[:8]}"

    def prepare(self, request: GenerationRequest) -> tuple[dict[str, Any], str, int]:
        self.generator.prepare(request)
        return (self.generator.describe(), self.generator.sampler_label(),
                self.generator.default_batch_size(request))

    def generate(self, requests: list[GenerationRequest]) -> list[GeneratedImage]:
        results = self.generator.generate(requests)
        for result in results:
            result.worker = self.name
        return results


def _actor_class(gpus: int) -> Any:
    """The Ray actor: one per GPU (or one CPU each), restarted by Ray when it
    dies, its unfinished calls retried. A plain (not threaded) actor: torch
    in a threaded actor's worker thread measured 1.5x slower on CPU."""
    import ray

    return ray.remote(num_gpus=1 if gpus else 0, num_cpus=0 if gpus else 1, max_restarts=-1,
                      max_task_retries=-1)(_GenerateWorker)


class RayGenerator(GeneratorPool):
    """A Generator whose batches run on a pool of Ray actors."""

    name = "ray"
    options: ClassVar[dict[str, str]] = {}

    def __init__(self, model: str, *, address: str = "local", actors: int | None = None,
                 device: str = "auto", dtype: str = "auto",
                 options: dict[str, Any] | None = None) -> None:
        import torch

        self.cluster = connect(address)
        gpus = self.cluster["gpus"]
        count, threads = pool_size(self.cluster, actors, torch.get_num_threads(), address)
        worker = _actor_class(gpus)
        self.actors = [worker.options(name=f"generate-{i}-{os.getpid()}").remote(
            model, device, dtype, options or {}, threads) for i in range(count)]
        self.cluster.update(actors=count, threads_per_actor=threads)
        self._card: dict[str, Any] = {}
        self._label = "default"
        self._batch = 4

    def prepare(self, request: GenerationRequest) -> None:
        import ray

        answers = ray.get([actor.prepare.remote(request) for actor in self.actors])
        self._card, self._label, self._batch = answers[0]

    def describe(self) -> dict[str, Any]:
        return self._card

    def sampler_label(self) -> str:
        return self._label

    def default_batch_size(self, request: GenerationRequest) -> int:
        return self._batch

    def alive(self) -> int | None:
        """Actors Ray reports ALIVE (not restarting); None where this Ray
        version does not answer (the table is Ray's internal one)."""
        try:
            from ray._private import state

            return sum(state.actors(a._actor_id.hex()).get("State") == "ALIVE"
                       for a in self.actors)
        except Exception:  # an internal API: absent or changed in another version
            return None

    def map_batches(self, batches: Sequence[list[GenerationRequest]], *,
                    progress: Any | None = None) -> Iterator[tuple[int, list[GeneratedImage]]]:
        """(batch number, results) as batches finish; ``progress.note`` hears
        how many actors are alive."""
        def note() -> None:
            if isinstance(progress, Notes):
                alive = self.alive()
                progress.note(f"{alive if alive is not None else '?'}/{len(self.actors)} Ray "
                              "actors alive")

        yield from dispatch(self.actors, "generate", batches, every=note)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedImage]:
        return next(iter(self.map_batches([list(requests)])))[1]

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor, no_restart=True)

class _ScoreWorker:
    def __init__(self, names: list[str], options: dict[str, dict[str, Any]], device: str,
                 cache_folder: str | None, batch_size: int | None, threads: int) -> None:
        import torch

        from audit.common.devices import quiet_libraries
        from audit.scorers import make_scorers

        torch.set_num_threads(threads)  # CPU results depend on it; use the driver's
        quiet_libraries()
        self.scorers = make_scorers(names, options=options, device=device,
                                    cache_folder=Path(cache_folder) if cache_folder else None,
                                    batch_size=batch_size)

    def cards(self) -> list[dict[str, Any]]:
        return [s.card() for s in self.scorers]

    def score(self, entries: list[tuple[str, str, str | None]]) -> ScoreRows:
        from audit.stages.score import score_entries

        return score_entries([(i, Path(p), key) for i, p, key in entries], self.scorers, None)


class RayScorers(ScorerPool):
    """The scorers, as a pool of Ray actors (``audit score --ray``)."""

    def __init__(self, names: list[str], *, options: dict[str, dict[str, Any]], device: str,
                 cache_folder: Path | None, batch_size: int | None, address: str,
                 actors: int | None = None) -> None:
        import ray
        import torch

        self.cluster = connect(address)
        gpus = self.cluster["gpus"]
        count, threads = pool_size(self.cluster, actors, torch.get_num_threads(), address)
        worker = ray.remote(num_gpus=1 if gpus else 0, num_cpus=0 if gpus else 1,
                            max_restarts=-1, max_task_retries=-1)(_ScoreWorker)
        self.actors = [worker.remote(names, options, device,
                                     str(cache_folder) if cache_folder else None, batch_size,
                                     threads) for _ in range(count)]
        self.cluster.update(actors=count, threads_per_actor=threads)
        self.names = names

    def cards(self) -> list[dict[str, Any]]:
        import ray

        return ray.get(self.actors[0].cards.remote())

    def score_entries(self, entries: list[ScoreEntry], progress: Progress | None
                      ) -> ScoreRows:
        """The three tables' rows, chunk by chunk in the order of ``entries``."""
        from audit.stages.score import BATCH

        chunks = [[(i, str(p), key) for i, p, key in entries[start:start + BATCH]]
                  for start in range(0, len(entries), BATCH)]
        if progress:
            progress.start(len(entries), 0)
        results: dict[int, ScoreRows] = {}
        for number, result in dispatch(self.actors, "score", chunks):
            results[number] = result
            if progress:
                progress.advance(len(chunks[number]))
        rows: ScoreRows = {"decisions": [], "measurements": [], "inputs": []}
        for number in range(len(chunks)):
            for table, part in results[number].items():
                rows[table] += part
        return rows

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor, no_restart=True)
