"""Generate stage: suite x seeds -> images/ + images.parquet, resumable.

An image whose row says it is done and whose file still has the recorded
sha256 is skipped, so rerunning the same command after a crash continues
where it stopped and never writes a duplicate row.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from audit.api.generator import (
    GeneratedImage,
    GenerationRequest,
    Generator,
    GeneratorPool,
    HostedGenerator,
)
from audit.common.progress import Progress
from audit.errors import UsageError
from audit.rundir.atomic import write_bytes
from audit.rundir.images_table import ImagesTable
from audit.rundir.layout import RunDir
from audit.rundir.pngmeta import a1111_parameters, encode_png
from audit.rundir.runcard import finish_run, start_run
from audit.suites import Item, Suite, expand

DONE = ("ok", "blank", "filtered", "nan")


@dataclass(frozen=True)
class GenerateSummary:
    requested: int
    skipped: int
    generated: int
    statuses: dict[str, int]
    cost: dict[str, Any] | None = None  # a paid backend's estimate and spend (USD)
    energy: dict[str, Any] | None = None  # audit.common.energy's record, per image


def _swept(item: Item, key: str, value: Any) -> Item:
    """The item at one value of a sweep: its own id (and counterfactual
    group, so pairs compare at equal settings)."""
    suffix = f"--{key}-{value:g}" if isinstance(value, float) else f"--{key}-{value}"
    group = item.counterfactual_group
    return replace(item, item_id=item.item_id + suffix,
                   counterfactual_group=group + suffix if group else None)


SEED_BLOCK = 100_000  # images_per_item's maximum: independent blocks never overlap


def first_seeds(suite: Suite, items: list[Item]) -> dict[str, int]:
    """Each item's first seed. ``shared``: the suite's seed for all.
    ``independent``: block b (in suite order; a counterfactual group is one
    block, since its members are compared seed by seed on purpose) starts at
    seed + b * SEED_BLOCK."""
    if suite.seed_policy == "shared":
        return {item.item_id: suite.seed for item in items}
    blocks: dict[str, int] = {}
    for item in items:
        blocks.setdefault(item.counterfactual_group or item.item_id, len(blocks))
    return {item.item_id: suite.seed + SEED_BLOCK * blocks[item.counterfactual_group
                                                            or item.item_id]
            for item in items}


def plan_requests(suite: Suite, n: int | None = None,
                  sweep: tuple[str, list[Any]] | None = None
                  ) -> list[tuple[Item, GenerationRequest]]:
    """Every (item, request) of the suite, n seeds per item from
    ``first_seeds``. A ``sweep`` (steps or guidance, values) makes each item
    once per value, as items ITEM--steps-20, with the item's seeds."""
    n = n or suite.images_per_item
    params = suite.generation
    planned = []
    items = expand(suite)
    starts = first_seeds(suite, items)
    for base in items:
        variants = [(base, {})] if sweep is None else [
            (_swept(base, sweep[0], v), {sweep[0]: v}) for v in sweep[1]]
        for item, changed in variants:
            values = {**params, **changed}
            start = starts[base.item_id]
            for seed in range(start, start + n):
                planned.append((item, GenerationRequest(
                    image_id=f"{item.item_id}/{seed}", prompt=item.prompt,
                    negative_prompt=item.negative_prompt, seed=seed, steps=int(values["steps"]),
                    guidance=float(values["guidance"]), width=values["width"],
                    height=values["height"], scheduler=values["scheduler"])))
    return planned


def _is_done(row: dict[str, Any] | None, run_dir: Path) -> bool:
    if row is None or row.get("status") not in DONE:
        return False
    if row["status"] == "nan":
        return True
    path = run_dir / row["path"]
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]


def _batches(todo: list[tuple[Item, GenerationRequest]], size: int
             ) -> Iterator[list[tuple[Item, GenerationRequest]]]:
    by_key: dict[tuple[Any, ...], list[tuple[Item, GenerationRequest]]] = {}
    for pair in todo:
        by_key.setdefault(pair[1].batch_key(), []).append(pair)
    for group in by_key.values():
        for start in range(0, len(group), size):
            yield group[start:start + size]


def _record(item: Item, suite: Suite, model_id: str, request: GenerationRequest) -> dict[str, Any]:
    return {"image_id": request.image_id, "suite": suite.name, "suite_version": suite.version,
            "item_id": item.item_id, "template": item.template, "role": item.role,
            "slots": json.dumps(item.slots, sort_keys=True),
            "reference_keys": json.dumps(item.reference_keys, sort_keys=True),
            "counterfactual_group": item.counterfactual_group,
            "expected": json.dumps(item.expected, sort_keys=True) if item.expected else None,
            "model": model_id, **{k: v for k, v in request.to_dict().items() if k != "image_id"}}


def _schedule_type(label: str) -> str | None:
    """WebUI (1.9+) writes "DPM++ 2M Karras" as Sampler "DPM++ 2M" with
    Schedule type "Karras"; a label it has no name for is written as it is."""
    from audit.generators.schedulers import SCHEDULERS, resolve_scheduler

    name = resolve_scheduler(label)
    return SCHEDULERS[name][3] if name in SCHEDULERS else None


def _save(result: GeneratedImage, row: dict[str, Any], run_dir: Path, *, sampler: str,
          model: dict[str, Any], hosted: bool) -> dict[str, Any]:
    request = result.request
    row = {**row, "status": result.status, "error": result.error, "seconds": result.seconds,
           "batch_index": result.batch_index, "batch_size": result.batch_size,
           "path": None, "sha256": None, "worker": result.worker}
    if result.extra:
        said = dict(result.extra)
        row["revised_prompt"] = said.pop("revised_prompt", None)
        row["provider"] = json.dumps(said, sort_keys=True)
    if result.image is not None:
        relative = RunDir.image_relative(row["item_id"], request.seed)
        if hosted:  # steps, sampler, CFG were not the provider's: not claimed
            parameters = f"{request.prompt}\nModel: {model['id']}"
        else:
            parameters = a1111_parameters(request.to_dict(), sampler=sampler,
                                          schedule_type=_schedule_type(sampler),
                                          model=model["id"], model_hash=model.get("sha256"))
        meta = {k: v for k, v in row.items()
                if k not in ("status", "error", "seconds", "batch_id", "batch_index",
                             "batch_size", "path", "sha256", "worker")}
        data = encode_png(result.image, parameters=parameters, record=meta)
        write_bytes(run_dir / relative, data)
        row.update(path=relative, sha256=hashlib.sha256(data).hexdigest())
    return row


def _sweep_of(config: dict[str, Any] | None) -> tuple[str, list[Any]] | None:
    sweep = (config or {}).get("sweep")
    return (sweep["key"], list(sweep["values"])) if sweep else None


def _metered_device(generator: Generator, model: dict[str, Any]) -> str:
    """The GPU this process can meter: none for a paid API (the provider's)
    or a Ray pool (the actors' devices are not metered from here)."""
    if isinstance(generator, HostedGenerator | GeneratorPool):
        return "remote"
    return str(model.get("device", "cpu"))


DEFAULT_MAX_COST = 5.0  # USD: a paid run estimated above this needs --max-cost or --yes


def check_cost(generator: Generator, todo: list[tuple[Item, GenerationRequest]], *,
               max_cost: float | None, confirmed: bool) -> dict[str, Any] | None:
    """The estimated price of what a paid backend is about to request
    (already saved images are not requested again); refused above the
    ceiling unless confirmed. None for backends that cost nothing."""
    if not isinstance(generator, HostedGenerator):
        return None
    estimate = round(sum(generator.price(request) for _, request in todo), 4)
    ceiling = DEFAULT_MAX_COST if max_cost is None else max_cost
    if estimate > ceiling and not confirmed:
        raise UsageError(f"estimated cost USD {estimate:.2f} for {len(todo)} images is above "
                         f"--max-cost {ceiling:.2f}; raise --max-cost or pass --yes")
    return {"currency": "USD", "estimated": estimate, "images_requested": len(todo),
            "max_cost": ceiling, "confirmed": confirmed}


def pending_requests(suite: Suite, run_dir: Path, n: int | None = None,
                     config: dict[str, Any] | None = None
                     ) -> list[tuple[Item, GenerationRequest]]:
    """What a run still has to request: planned images not yet stored."""
    table = ImagesTable(run_dir)
    return [(i, r) for i, r in plan_requests(suite, n, sweep=_sweep_of(config))
            if not _is_done(table.rows.get(r.image_id), run_dir)]


def run_generate(suite: Suite, generator: Generator, run_dir: Path, *, n: int | None = None,
                 batch_size: int | None = None, command: str = "",
                 progress: Progress | None = None, config: dict[str, Any] | None = None,
                 cost: dict[str, Any] | None = None,
                 on_stored: Callable[[list[tuple[str, Any, str]]], None] | None = None
                 ) -> GenerateSummary:
    """``config``: what run.json's config records besides the suite's own
    settings (``seed_drawn`` so a resume reuses a drawn seed; ``styles``).
    ``cost``: a paid backend's checked estimate (``check_cost``), recorded
    with what was spent. ``on_stored`` receives (image_id, image, sha256)
    of each batch's ok images once their PNGs and rows are written (fused
    scoring); it may block to slow generation down."""
    from audit.common.energy import EnergyMeter, per_image

    run_dir.mkdir(parents=True, exist_ok=True)
    planned = plan_requests(suite, n, sweep=_sweep_of(config))
    generator.prepare(planned[0][1])
    model = generator.describe()
    table = ImagesTable(run_dir)
    todo = [(i, r) for i, r in planned if not _is_done(table.rows.get(r.image_id), run_dir)]
    suite_card = {"name": suite.name, "version": suite.version, "sha256": suite.sha256,
                  "path": str(suite.path), "description": suite.description,
                  "content_warning": suite.content_warning, "attributes": suite.attributes,
                  "reference": suite.reference, "answers": suite.answers,
                  "scorer_options": suite.scorer_options()}
    settings = {"n": n or suite.images_per_item, "seed": suite.seed,
                "seed_policy": suite.seed_policy,
                "generation": suite.generation, "batch_size": batch_size, **(config or {})}
    card = start_run(run_dir, suite=suite_card, model=model, config=settings, command=command)
    invocation = len(card["history"])
    if progress:
        progress.start(len(planned), len(planned) - len(todo))
    sampler = generator.sampler_label
    size = batch_size or (generator.default_batch_size(todo[0][1]) if todo else 1)
    spent = [0.0]

    def store(number: int, items: dict[str, Item], results: list[GeneratedImage],
              label: str) -> int:
        def save(result: GeneratedImage) -> dict[str, Any]:
            row = _record(items[result.request.image_id], suite, model["id"], result.request)
            row["batch_id"] = f"{invocation:03d}-{number:05d}-{result.sub_batch}"
            return _save(result, row, run_dir, sampler=label, model=model,
                         hosted=isinstance(generator, HostedGenerator))

        rows = list(encoders.map(save, results))  # zlib releases the GIL
        table.append(rows)  # journal after the PNGs: a journalled row has its file
        if on_stored is not None:
            on_stored([(row["image_id"], result.image, row["sha256"])
                       for row, result in zip(rows, results, strict=True)
                       if row["status"] == "ok"])
        spent[0] += sum(r.extra.get("price_usd", 0.0) for r in results if r.extra.get("billed"))
        return len(rows)

    def finish(job: Future[int]) -> None:
        stored = job.result()
        if progress:
            progress.advance(stored)

    batches = list(_batches(todo, size))

    def produced() -> Iterator[tuple[int, list[GeneratedImage]]]:
        """(batch number, results): from a pool of workers in the order they
        finish (``map_batches``, Ray), else batch after batch here."""
        requests = [[r for _, r in batch] for batch in batches]
        if isinstance(generator, GeneratorPool):
            yield from generator.map_batches(requests, progress=progress)
            return
        for number, batch in enumerate(requests):
            yield number, generator.generate(batch)

    meter = EnergyMeter(_metered_device(generator, model)).start()
    # PNG encoding and hashing run on a writer thread while the next batch
    # generates; depth one, so at most one batch is ever in flight. A remote
    # API's images are stored one by one as they arrive instead: each is paid
    # for, and a killed run must not pay for it again.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-writer") as writer, \
            ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1),
                               thread_name_prefix="png-encoder") as encoders:
        if isinstance(generator, HostedGenerator):
            for number, batch in enumerate(batches):
                items = {r.image_id: i for i, r in batch}
                for result in generator.iter_generate([r for _, r in batch]):
                    stored = store(number, items, [result], sampler())
                    if progress:
                        progress.advance(stored)
        else:
            pending: Future[int] | None = None
            for number, results in produced():
                label = sampler()
                if pending:
                    finish(pending)
                pending = writer.submit(store, number, {r.image_id: i for i, r in
                                                        batches[number]}, results, label)
            if pending:
                finish(pending)
    table.write(order=[r.image_id for _, r in planned])
    statuses: dict[str, int] = {}
    for _, request in planned:
        status = table.rows[request.image_id]["status"]
        statuses[status] = statuses.get(status, 0) + 1
    spend = {**cost, "spent": round(spent[0], 4)} if cost is not None else None
    energy = per_image(meter.stop(), len(todo))
    if on_stored is not None:
        energy["includes"] = "scoring done while generating (fused)"
    summary = GenerateSummary(len(planned), len(planned) - len(todo), len(todo), statuses,
                              spend, energy)
    runtime = generator.runtime()  # e.g. compile time
    finish_run(run_dir, card, {"generated": summary.generated, "skipped": summary.skipped,
                               **({"cost": spend} if spend else {}), "energy": energy,
                               **({"runtime": runtime} if runtime else {})})
    return summary
