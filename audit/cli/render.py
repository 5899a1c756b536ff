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


def log_odds_text(row: dict[str, Any]) -> str:
    """Log-odds against the reference, or "–" with why it is not a number
    worth reading (one image; no reference)."""
    if row["reference"] is None:
        return "– (no reference)"
    if row["n"] < 2:
        return f"– (n = {row['n']})"
    return fmt(row["log_odds"], 2)


SHORT = 12  # a share table this long is printed with the summary


def print_tables(document: dict[str, Any], console: Console, *, shares_only: bool = False
                 ) -> None:
    """Every table of stats.json a terminal can show (``audit stats --all``)."""
    rows = [(r["group"], r["attribute"], r["category"], f"{r['k']}/{r['n']}", r["estimate"],
             f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]", r["reference"] or "–",
             log_odds_text(r), r["test"], r["p_value"], r["p_adjusted"])
            for r in document["proportions"]]
    print_table(console, ("group", "attribute", "category", "k/n", "share", "95% CI",
                          "reference", "log-odds", "test", "p", "p adj."), rows,
                title="Perceived-attribute shares (95% CI) vs reference",
                wrap=("test", "reference", "log-odds"))
    if shares_only:
        return
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
    if document.get("prediction_powered"):
        rows = [(r["group"], r["attribute"], r["category"], f"{r['labelled']}+{r['unlabelled']}",
                 "-" if r["estimate"] is None else
                 f"{fmt(r['estimate'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                 "-" if r["labels_only"] is None else
                 f"{fmt(r['labels_only'])} [{fmt(r['labels_only_ci_low'])}, "
                 f"{fmt(r['labels_only_ci_high'])}]",
                 "-" if r["lambda"] is None else fmt(r["lambda"]), r["note"] or "")
                for r in document["prediction_powered"]]
        print_table(console, ("group", "attribute", "category", "labelled+unlabelled",
                              "PPI++ share (95% CI)", "labels alone (95% CI)", "lambda",
                              "note"), rows,
                    title="Prediction-powered shares (a random sample of human labels with "
                          "the classifier's labels on every image)", wrap=("note",))
    if document.get("agreement"):
        rows = [(r["attribute"], r["scorers"], r["n"],
                 f"– ({r.get('note') or 'undefined'})" if r["kappa"] is None else
                 f"{fmt(r['kappa'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                 fmt(r["agreement"])) for r in document["agreement"]]
        print_table(console, ("attribute", "scorers", "n", "kappa (95% CI)", "raw agreement"),
                    rows, title="Agreement between scorers", wrap=("kappa (95% CI)",))
    review = document.get("review")
    if review:
        rows = [(r["scorer"], r["attribute"], r["n"], fmt(r["accuracy"]), r["abstained"])
                for r in review["confusion"] if r["scope"] == "all"]
        print_table(console, ("scorer", "attribute", "labelled images", "accuracy (confident)",
                              "abstained"), rows, title="Scorers against human labels")


def holding(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per test of a share that holds after correction: the category
    furthest below its reference (a binary test's two rows say the same)."""
    alpha = document["settings"]["alpha"]
    best: dict[str, dict[str, Any]] = {}
    for row in document["proportions"]:
        if row["p_adjusted"] is None or row["p_adjusted"] > alpha:
            continue
        kept = best.get(row["test_id"])
        if kept is None or (row["difference"] or 0) < (kept["difference"] or 0):
            best[row["test_id"]] = row
    return sorted(best.values(), key=lambda r: (r["p_adjusted"], r["group"]))


def warnings_of(document: dict[str, Any]) -> list[str]:
    """The diagnostics a reader must see before trusting the findings."""
    from audit.reference_names import unmatched_text
    from audit.stats.assess import is_diagnostic
    from audit.stats.run_tables import SAFETY_ATTRIBUTES

    alpha = document["settings"]["alpha"]
    lines = []
    for entry in document.get("references", []):
        if entry["reference"] is None and entry["attribute"] not in SAFETY_ATTRIBUTES:
            lines.append(f"{entry['attribute']}: no reference covers it; its shares get "
                         "intervals but no test (the reference 'uniform', in the suite or "
                         "with --reference, tests them against parity)")
        for match in entry["unmatched"]:
            lines.append(f"{entry['attribute']}: " + unmatched_text(match, entry["reference"]))
    words = {"funnel:": "images lost before labelling differ across prompts",
             "abstention:": "the answering scorer abstains at different rates across prompts"}
    for row in document["comparisons"]:
        test_id = str(row.get("test_id"))
        said = next((w for prefix, w in words.items() if test_id.startswith(prefix)), None)
        if said and is_diagnostic(test_id) and row["p_value"] is not None \
                and row["p_value"] <= alpha:
            lines.append(f"{row['attribute']}: {said} (p = {fmt(row['p_value'])}): shares of "
                         "confident labels may be biased; see the abstention bounds (--all)")
        if test_id.startswith("adherence:") and row["p_value"] is not None \
                and row["p_value"] <= alpha:
            lines.append(f"{row['attribute']} in {row['groups']}: on- and off-class images "
                         f"differ (p = {fmt(row['p_value'])}): the share among images that "
                         "show what the prompt asked for differs from the share over all "
                         "(stats.json 'conditional')")
    small = sorted({r["group"] for r in document["proportions"] if 0 < r["n"] < 10})
    if small:
        lines.append(f"{len(small)} item(s) with fewer than 10 labelled images (e.g. "
                     f"{small[0]}): their intervals are wide; 'audit plan' sizes a rerun")
    return lines


def print_summary(document: dict[str, Any], console: Console, *,
                  everything: bool = False, hint: str = "audit stats RUN --all") -> None:
    """What matters first: the findings that hold after correction, with n and
    intervals, and the diagnostics that warn; every table on ``everything``."""
    if everything or len(document["proportions"]) <= SHORT:
        print_tables(document, console, shares_only=not everything)
    method = document["multiplicity"]
    alpha = document["settings"]["alpha"]
    found = holding(document)
    rows = [(r["group"], r["attribute"], r["category"], f"{r['k']}/{r['n']}",
             f"{fmt(r['estimate'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
             r["reference"], r["p_adjusted"]) for r in found]
    paired = [r for r in document["comparisons"] if str(r.get("test_id")).startswith("paired:")
              and r["p_adjusted"] is not None and r["p_adjusted"] <= alpha]
    if rows:
        print_table(console, ("group", "attribute", "category", "k/n", "share (95% CI)",
                              "reference", "p adj."), rows, wrap=("reference",),
                    title=f"Findings that hold after {method['method']} correction at alpha "
                          f"{alpha} ({len(found)} of {method['tests']} tests)")
    if paired:
        print_table(console, ("attribute", "groups", "category", "n", "difference (95% CI)",
                              "p adj."),
                    [(r["attribute"], r["groups"], r["category"], r["n"],
                      f"{fmt(r['estimate'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                      r["p_adjusted"]) for r in paired],
                    title="Counterfactual contrasts that hold", wrap=("groups",))
    if not rows and not paired:
        console.print(f"No finding holds after {method['method']} correction at alpha {alpha} "
                      f"({method['tests']} test(s)).", markup=False)
    adherence = document.get("adherence") or []
    by_people = sum(r.get("reviewed", 0) for r in adherence)
    if adherence:
        print_table(console, ("prompt", "on / decided", "on-class rate (95% CI)", "unclear",
                              "CLIPScore mean"),
                    [(r["prompt"], f"{r['on']}/{r['on'] + r['off']}",
                      f"{fmt(r['on_rate'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}]",
                      r["unclear"], fmt(r["clipscore_mean"])) for r in adherence],
                    title="Prompt adherence (does the image show the class the prompt "
                          f"names? read by {adherence[0].get('scorer') or 'the adherence scorer'}"
                          + (f"; people's on/off for {by_people} image(s)" if by_people else "")
                          + ")", wrap=("prompt",))
    for line in warnings_of(document):
        console.print(f"warning: {line}", markup=False)
    review = document.get("review")
    if review:
        reviewed = sum({(r["group"], r["attribute"]): r.get("reviewed", 0)
                        for r in document["proportions"]}.values())
        console.print(f"human labels: {review['labels']} on {review['images']} images by "
                      f"{len(review['reviewers'])} reviewer(s); {review['with_truth']} images "
                      f"with a confident consensus label; in the shares a person's label "
                      f"counts for {reviewed} image(s) (the column 'reviewed')", markup=False)
    if document.get("corrected") and not everything:
        console.print(f"{len(document['corrected'])} shares corrected for classifier error "
                      f"(--all shows them)", markup=False)
    powered = [r for r in document.get("prediction_powered") or [] if r["estimate"] is not None]
    if powered and not everything:
        console.print(f"{len(powered)} prediction-powered shares from the label sample, the "
                      "estimate of the true share that rests only on the sample being random "
                      "(--all shows them)", markup=False)
    shown = {r["attribute"] for r in document["proportions"]}
    answers = {a: s for a, s in document["source"].get("answers", {}).items() if a in shown}
    if answers:
        console.print("answered by: " + ", ".join(f"{a}={s}" for a, s in answers.items()),
                      markup=False)
    console.print(f"{len(document['proportions'])} share rows, "
                  f"{len(document['comparisons'])} comparisons, {method['tests']} test(s); "
                  + ("" if everything else f"every table: {hint} (or --csv, --json). ")
                  + "Labels are perceived attributes, not identities.", markup=False)


def write_csv(frame: Any, out: Path | None) -> None:
    """A table as CSV to ``out`` (atomically) or to stdout, every text cell
    safe to open in a spreadsheet (``spreadsheet_cell``)."""
    import sys

    from audit.common.text import spreadsheet_cell
    from audit.rundir.atomic import output_file

    if out is not None:
        output_file(out, what="the CSV (-o)")
    frame = frame.copy()
    for column in frame.select_dtypes(include=["object", "string"]).columns:
        frame[column] = frame[column].map(spreadsheet_cell)
    if out is None:
        frame.to_csv(sys.stdout, index=False)
        return
    from audit.rundir.atomic import write_text

    write_text(out, frame.to_csv(index=False))
