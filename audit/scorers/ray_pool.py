"""Scoring on a Ray cluster: actors each build the scorers once and score
chunks of a run's images (read from the run directory, so on a cluster it
lives on shared storage); the driver writes the score tables, in the same
order as a single-process run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.common.progress import Progress


class _Worker:
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

    def score(self, entries: list[tuple[str, str, str | None]]) -> dict[str, list[dict]]:
        from audit.stages.score import _score_entries

        return _score_entries([(i, Path(p), key) for i, p, key in entries], self.scorers, None)


class RayScorers:
    """The scorers, as a pool of Ray actors (``audit score --ray``)."""

    def __init__(self, names: list[str], *, options: dict[str, dict[str, Any]], device: str,
                 cache_folder: Path | None, batch_size: int | None, address: str,
                 actors: int | None = None) -> None:
        import ray
        import torch

        from audit.generators.ray_pool import connect, pool_size

        self.cluster = connect(address)
        gpus = self.cluster["gpus"]
        count, threads = pool_size(self.cluster, actors, torch.get_num_threads(), address)
        worker = ray.remote(num_gpus=1 if gpus else 0, num_cpus=0 if gpus else 1,
                            max_restarts=-1, max_task_retries=-1)(_Worker)
        self.actors = [worker.remote(names, options, device,
                                     str(cache_folder) if cache_folder else None, batch_size,
                                     threads) for _ in range(count)]
        self.cluster.update(actors=count, threads_per_actor=threads)
        self.names = names

    def cards(self) -> list[dict[str, Any]]:
        import ray

        return ray.get(self.actors[0].cards.remote())

    def score_entries(self, entries: list[tuple[str, Path, str | None]],
                      progress: Progress | None) -> dict[str, list[dict[str, Any]]]:
        """The three tables' rows, chunk by chunk in the order of ``entries``."""
        from audit.generators.ray_pool import dispatch
        from audit.stages.score import BATCH

        chunks = [[(i, str(p), key) for i, p, key in entries[start:start + BATCH]]
                  for start in range(0, len(entries), BATCH)]
        if progress:
            progress.start(len(entries), 0)
        results: dict[int, dict[str, list[dict[str, Any]]]] = {}
        for number, result in dispatch(self.actors, "score", chunks):
            results[number] = result
            if progress:
                progress.advance(len(chunks[number]))
        rows: dict[str, list[dict[str, Any]]] = {"decisions": [], "measurements": [],
                                                 "inputs": []}
        for number in range(len(chunks)):
            for table, part in results[number].items():
                rows[table] += part
        return rows

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor, no_restart=True)
