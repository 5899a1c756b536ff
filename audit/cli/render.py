"""Terminal output: tables that fit the terminal, and user text printed as data.

One renderer for every table: a grid when its narrowest layout fits the
terminal (text columns wrap at spaces, numbers never break), otherwise one
block per row ("key value" pairs wrapped at the width). Nothing is ever cut
with an ellipsis: a cut number is a wrong number.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value else f"{value:.{digits}f}"
    return str(value)


def print_table(console: Console, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                title: str | None = None, wrap: Sequence[str] = (),
                caption: str | None = None) -> None:
    """``wrap``: the columns holding free text (prompts, group lists) that may
    wrap at spaces; every other cell stays on one line."""
    cells = [[fmt(c) for c in row] for row in rows]
    narrowest = []
    for i, name in enumerate(columns):
        values = [row[i] for row in cells] + [name]
        words = [w for v in values for w in v.split()] if name in wrap else values
        narrowest.append(max((len(w) for w in words), default=1))
    # each column: one space of padding either side and one between columns
    if sum(narrowest) + 3 * len(columns) > console.width:
        _print_blocks(console, columns, cells, title=title, caption=caption)
        return
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False,
                  title_justify="left", caption=caption, caption_justify="left")
    for name, least in zip(columns, narrowest, strict=True):
        table.add_column(name, no_wrap=name not in wrap, min_width=least)
    for row in cells:
        table.add_row(*(Text(c) for c in row))
    console.print(table)


def _pack(pairs: list[str], width: int, separator: str = "  ·  ") -> list[str]:
    """Pairs on lines of at most ``width``, never splitting a pair (a pair
    longer than the width gets a line of its own)."""
    import textwrap

    lines: list[str] = []
    for pair in pairs:
        if lines and len(lines[-1]) + len(separator) + len(pair) <= width:
            lines[-1] += separator + pair
        elif len(pair) <= width:
            lines.append(pair)
        else:  # a long text value: wrapped at spaces, continuation indented
            lines += textwrap.wrap(pair, width, subsequent_indent="    ",
                                   break_long_words=False, break_on_hyphens=False)
    return lines


def _print_blocks(console: Console, columns: Sequence[str], cells: list[list[str]], *,
                  title: str | None, caption: str | None) -> None:
    width = max(console.width, 40)
    if title:
        console.print(Text(title, style="italic"))
    for row in cells:
        console.print(Text(f"{columns[0]} {row[0]}", style="bold"))
        pairs = [f"{name} {value}" for name, value in zip(columns[1:], row[1:], strict=True)]
        for line in _pack(pairs, width - 2):
            console.print(Text("  " + line))
    if caption:
        console.print(Text(caption, style="dim"))


def print_summary(document: dict[str, Any], console: Console) -> None:
    """The stats.json tables a person reads first."""
    rows = [(r["group"], r["attribute"], r["category"], f"{r['k']}/{r['n']}", r["estimate"],
             f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]", r["reference"] or "-",
             fmt(r["log_odds"], 2), r["test"], r["p_value"], r["p_adjusted"])
            for r in document["proportions"]]
    print_table(console, ("group", "attribute", "category", "k/n", "share", "95% CI",
                          "reference", "log-odds", "test", "p", "p adj."), rows,
                title="Perceived-attribute shares (95% CI) vs reference",
                wrap=("test", "reference"))
    if document["comparisons"]:
        rows = [(r["kind"], r["attribute"], r["groups"],
                 "-" if r["estimate"] is None else
                 f"{fmt(r['estimate'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                 r["test"], r["p_value"], r["p_adjusted"]) for r in document["comparisons"]]
        print_table(console, ("kind", "attribute", "groups", "estimate (95% CI)", "test", "p",
                              "p adj."), rows, title="Comparisons",
                    wrap=("kind", "groups", "test"))
    if document.get("corrected"):
        rows = [(r["group"], r["attribute"], r["category"], fmt(r["observed"]),
                 f"{fmt(r['corrected'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                 f"{r['confident']}+{r['abstained']}", r["source"],
                 f"{r['confusion_n']} ({r['confusion_scope']})")
                for r in document["corrected"]]
        print_table(console, ("group", "attribute", "category", "observed",
                              "corrected (95% CI)", "confident+abstained", "from",
                              "labels in matrix"), rows,
                    title="Shares corrected for classifier error (abstentions kept as outcomes)",
                    wrap=("from",))
    review = document.get("review")
    if review:
        console.print(f"human labels: {review['labels']} on {review['images']} images by "
                      f"{len(review['reviewers'])} reviewer(s); {review['with_truth']} images "
                      f"with a confident consensus label", markup=False)
        rows = [(r["scorer"], r["attribute"], r["n"], fmt(r["accuracy"]), r["abstained"])
                for r in review["confusion"] if r["scope"] == "all"]
        print_table(console, ("scorer", "attribute", "labelled images", "accuracy (confident)",
                              "abstained"), rows, title="Scorers against human labels")
    method = document["multiplicity"]
    answers = document["source"].get("answers")
    if answers:
        console.print("answered by: " + ", ".join(f"{a}={s}" for a, s in answers.items()),
                      markup=False)
    console.print(f"{method['tests']} test(s), p-values adjusted by {method['method']}. "
                  "Labels are perceived attributes, not identities.", markup=False)


def print_findings(document: dict[str, Any], console: Console, *, limit: int = 10) -> None:
    """What a whole run prints instead of every table: the strongest adjusted
    results, and where the rest is."""
    tested = [r for r in document["proportions"] if r.get("p_adjusted") is not None]
    tested.sort(key=lambda r: (r["p_adjusted"], r["group"], r["category"]))
    rows = [(r["group"], r["attribute"], r["category"], f"{r['k']}/{r['n']}",
             f"{fmt(r['estimate'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
             r["reference"] or "-", r["p_adjusted"]) for r in tested[:limit]]
    if rows:
        print_table(console, ("group", "attribute", "category", "k/n", "share (95% CI)",
                              "reference", "p adj."), rows,
                    title=f"Smallest adjusted p-values ({len(rows)} of {len(tested)} rows)",
                    wrap=("reference",))
    method = document["multiplicity"]
    console.print(f"{len(document['proportions'])} share rows and "
                  f"{len(document['comparisons'])} comparisons; {method['tests']} test(s), "
                  f"p-values adjusted by {method['method']}. Labels are perceived "
                  "attributes, not identities.", markup=False)


def write_csv(frame: Any, out: Path | None) -> None:
    """A table as CSV to ``out`` (atomically) or to stdout."""
    import sys

    if out is None:
        frame.to_csv(sys.stdout, index=False)
        return
    from audit.rundir.atomic import write_text

    write_text(out, frame.to_csv(index=False))
