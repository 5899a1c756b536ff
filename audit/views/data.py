"""Load a run for viewing; thumbnails are cached outside the run (keyed by
the image's sha256) so viewing never writes into it. Only human labels are
written, to ``labels.parquet`` beside the run's files, never over scores."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from audit.api.scorer import ON_CLASS
from audit.rundir import RunDir
from audit.rundir.atomic import atomic_path
from audit.rundir.card import RunCard

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:^=&\"'])")


def literal(text: object) -> str:
    """User text for a Streamlit element that renders markdown (st.warning,
    st.markdown, widget labels): every ASCII punctuation mark backslash-escaped,
    so no bold, link, image (a remote fetch), KaTeX, colour or emoji code
    survives; it shows as the characters it is."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def thumbnail_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "t2i-audit" / "thumbnails"


@dataclass
class RunView:
    path: Path

    @cached_property
    def run(self) -> RunDir:
        return RunDir(self.path)

    @cached_property
    def card(self) -> RunCard:
        return self.run.card()

    @cached_property
    def images(self) -> pd.DataFrame:
        return self.run.read_images()

    @cached_property
    def tables(self) -> Any:
        return self.run.read_scores_or_empty()

    @property
    def measurements(self) -> pd.DataFrame:
        return self.tables.measurements

    @cached_property
    def stats(self) -> dict[str, Any] | None:
        return self.run.read_stats()

    @cached_property
    def ground_truth(self) -> dict[str, Any] | None:
        """ground_truth.json as ``audit demo`` wrote it, the headline cells
        first (None for runs without one)."""
        import json

        path = self.run.ground_truth_json
        if not path.is_file():
            return None
        from audit.toyworld.ground_truth import HEADLINE

        document = json.loads(path.read_text(encoding="utf-8"))
        tables = []
        for attribute, category in HEADLINE.items():
            rows = [r for r in document["terms"]
                    if r["attribute"] == attribute and r["category"] == category]
            if rows:
                tables.append({"attribute": attribute, "category": category, "rows": rows})
        return {"tables": tables, "amplification": document["amplification"]}

    @property
    def name(self) -> str:
        return f"{self.card.suite.name} · {self.card.model_id} ({self.path.name})"

    @cached_property
    def decisions(self) -> pd.DataFrame:
        """One decided label per (image, attribute): the answering scorer's,
        as the statistics chose it (stats.json's source.answers)."""
        decisions = self.tables.decisions
        answers = ((self.stats or {}).get("source") or {}).get("answers")
        if answers is None:
            from audit.data_files import default_answers
            from audit.stats.run_tables import resolve_answers

            answers = resolve_answers(decisions, requested=self.card.suite.answers,
                                      defaults=default_answers(), where=str(self.path),
                                      needed=self.card.suite.attributes or None)
        keep = decisions.scorer == decisions.attribute.map(answers)
        return decisions[keep][["image_id", "attribute", "scorer", "label"]]

    @property
    def audited(self) -> list[str]:
        """The attributes this run audits (the suite's, person gate excluded),
        in the suite's order; those decided when the suite names none."""
        wanted = self.card.suite.attributes or sorted(set(self.decisions.attribute))
        return [a for a in wanted if a != "person_present"]

    @property
    def relabelled(self) -> list[str]:
        """What a person can label here: the audited attributes, and on_class
        when the adherence or vqa scorer decided it (a suite does not list it)."""
        scored = ON_CLASS in set(self.decisions.attribute)
        extra = [ON_CLASS] if scored and ON_CLASS not in self.audited else []
        return [a for a in [*self.audited, *extra] if self.label_choices(a)]

    @cached_property
    def captions(self) -> dict[str, str]:
        """image_id -> "attribute: label, ..." over the audited attributes."""
        table = self.decisions.pivot_table(index="image_id", columns="attribute",
                                           values="label", aggfunc="first")
        columns = [a for a in self.audited if a in table.columns]
        return {image_id: ", ".join(f"{a}: {row[a]}" for a in columns if pd.notna(row[a]))
                for image_id, row in table[columns].iterrows()}

    def label_choices(self, attribute: str) -> list[str]:
        """What a reviewer may answer: the attribute's declared labels, plus 'unclear'."""
        from audit.review.labels import label_choices

        return label_choices(self.card, attribute)

    def labels(self) -> pd.DataFrame:
        return self.run.read_labels()

    def to_label(self) -> list[str]:
        """The label sample's images nobody has labelled yet, in draw order."""
        from audit.review.sample import read_sample

        sample = read_sample(self.run)
        if sample is None:
            return []
        labels = self.labels()
        done = set(labels.image_id) if len(labels) else set()
        return [i for i in sample.image_id if i not in done]

    def disagreements(self, attribute: str, first: str, second: str) -> pd.DataFrame:
        """image_id, label_a (first scorer), label_b: images both scorers
        labelled confidently and differently, by prompt and seed."""
        from audit.api.scorer import ABSTAIN

        decisions = self.tables.decisions
        mine = decisions[decisions.attribute == attribute]
        a = mine[mine.scorer == first][["image_id", "label"]].rename(columns={"label": "label_a"})
        b = mine[mine.scorer == second][["image_id", "label"]].rename(
            columns={"label": "label_b"})
        both = a.merge(b, on="image_id")
        both = both[~both.label_a.isin(ABSTAIN) & ~both.label_b.isin(ABSTAIN)
                    & (both.label_a != both.label_b)]
        order = self.images[["image_id", "item_id", "seed"]]
        return (both.merge(order, on="image_id").sort_values(["item_id", "seed"])
                [["image_id", "label_a", "label_b"]].reset_index(drop=True))

    def add_label(self, image_id: str, attribute: str, label: str, reviewer: str) -> None:
        """Raises InvalidInput for a label the attribute does not have."""
        from audit.review.labels import add_label

        add_label(self.run, image_id=image_id, attribute=attribute, label=label,
                  reviewer=reviewer, source="viewer")

    def thumbnail(self, image_id: str, size: int = 160) -> Path | None:
        row = self.images.set_index("image_id").loc[image_id]
        if not isinstance(row.path, str) or not row.path:
            return None
        cached = thumbnail_cache() / f"{row.sha256}-{size}-padded.jpg"
        if not cached.exists():
            from PIL import Image

            with Image.open(self.run.image_file(row.path)) as image, \
                    atomic_path(cached) as tmp:
                padded(image, size).save(tmp, format="JPEG", quality=85)
        return cached


def padded(image: Any, size: int) -> Any:
    """Every thumbnail size x size: small images scaled up pixel by pixel (a
    64 px toy image stays sharp), others down; padded with white."""
    from PIL import Image, ImageOps

    image = image.convert("RGB")
    small = max(image.size) < size
    return ImageOps.pad(image, (size, size), color=(255, 255, 255),
                        method=Image.Resampling.NEAREST if small else Image.Resampling.LANCZOS)


def warnings_for(view: RunView) -> list[str]:
    """Things a reader should know before trusting the numbers."""
    from audit.reference_names import unmatched_text

    notes = []
    n = view.card.config.get("n")
    if n and n < 20:
        widths = [r["ci_high"] - r["ci_low"] for r in (view.stats or {}).get("proportions", [])
                  if r.get("ci_high") is not None and r.get("ci_low") is not None]
        spread = (f": the intervals in stats.json are up to {max(widths):.0%} wide"
                  if widths else ": intervals will be wide")
        notes.append(f"{n} images per prompt{spread}; see 'audit plan' for the n you need.")
    if view.card.model.get("source") == "builtin":
        notes.append("The model is a built-in random test pipeline: its images are noise.")
    if any(str(c.get("weights", "")).startswith("random")  # face_attributes: files -> sha256
           for c in view.card.scorers):
        notes.append("A scorer has random weights (tests only): its labels mean nothing.")
    if view.stats is None:
        notes.append("No stats.json yet: run 'audit stats RUN'.")
    elif (stale := view.run.stale_stats(view.stats)) is not None:
        notes.append(f"stats.json is out of date ({stale}): the numbers shown are the old "
                     "ones; run 'audit stats RUN'.")
    for entry in (view.stats or {}).get("references", []):
        notes += [f"{entry['attribute']}: {unmatched_text(m, entry['reference'])}."
                  for m in entry["unmatched"]]
    concepts = concept_warning(view)
    if concepts:
        notes.append(concepts)
    warning = view.card.suite.content_warning
    if warning:
        notes.append(f"Content warning: {warning}")
    return notes


SAFETY_COLUMNS = ["template", "valid", "nudenet_unsafe", "nudenet_rate", "nudenet_ci_low",
                  "nudenet_ci_high", "concept_flagged", "concept_rate", "concept_ci_low",
                  "concept_ci_high", "not_valid", "filtered"]
TOY_CLIPS = ("toyworld-clip", "tiny-random")


def has_safety_scores(view: RunView) -> bool:
    return bool(view.tables.decisions.scorer.isin(["nudenet", "clip_concepts"]).any())


def concept_warning(view: RunView) -> str | None:
    """Concept margins from a CLIP that never saw real images mean nothing."""
    card = view.card.scorer("clip_concepts")
    if card is not None and (card.get("model") in TOY_CLIPS or card.get("pretrained") is None):
        return (f"clip_concepts ran on {card.get('model')} "
                f"({'random weights' if card.get('pretrained') is None else 'a toy CLIP'}), "
                "which has never seen real unsafe content: its concept flags mean nothing.")
    return None


def safety_rates(view: RunView, threshold: float = 0.6) -> pd.DataFrame | None:
    """stats.json's safety rates at ``threshold`` (one of its grid), shaped
    for display; None when stats.json has none (made before format 2, or
    not yet written): the viewer computes no statistic of its own."""
    rows = [r for r in (view.stats or {}).get("safety") or []
            if abs(r["threshold"] - threshold) < 1e-9]
    if not rows:
        return None
    shown = [{"template": r["template"], "valid": r["valid"],
              "nudenet_unsafe": f"{r['nudenet_k']}/{r['nudenet_n']}" if r["nudenet_n"] else "-",
              "nudenet_rate": r["nudenet_rate"], "nudenet_ci_low": r["nudenet_ci_low"],
              "nudenet_ci_high": r["nudenet_ci_high"],
              "concept_flagged": f"{r['concept_k']}/{r['concept_n']}" if r["concept_n"] else "-",
              "concept_rate": r["concept_rate"], "concept_ci_low": r["concept_ci_low"],
              "concept_ci_high": r["concept_ci_high"], "not_valid": r["not_valid"],
              "filtered": r["filtered"]} for r in rows]
    return pd.DataFrame(shown, columns=SAFETY_COLUMNS).astype(
        {c: float for c in SAFETY_COLUMNS if c.endswith(("rate", "low", "high"))})
