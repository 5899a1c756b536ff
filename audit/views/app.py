"""t2i-audit viewer (Streamlit). Start it with ``audit view RUN [RUN ...]``.

Runs come from the T2I_AUDIT_RUNS environment variable (paths separated by
os.pathsep). Read-only on the runs, except for human labels, which go to
labels.parquet beside the run's files and never overwrite scores.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from audit.errors import AuditError
from audit.rundir import RunDir
from audit.views.charts import share_chart
from audit.views.data import (
    RunView,
    concept_warning,
    has_safety_scores,
    literal,
    safety_rates,
    warnings_for,
)

PAGES = ["Overview", "Bias", "Images", "Labels", "Compare", "Safety", "Quality", "Release",
         "Validate", "Export"]
st.set_page_config(page_title="t2i-audit", layout="wide")


@st.cache_resource(max_entries=32)
def load(path: str, version: tuple[tuple[str, int, int], ...]) -> RunView:
    """One RunView per run and ``version`` (its files' sizes and times): a run
    rescored, restatted or relabelled since is read again, not shown stale."""
    view = RunView(Path(path))
    _ = (view.card, view.images, view.tables, view.stats)  # read once; a bare expression
    return view  # would be drawn by Streamlit's "magic"


def run_paths() -> list[str]:
    return [p for p in os.environ.get("T2I_AUDIT_RUNS", "").split(os.pathsep) if p]


def overview(view: RunView) -> None:
    card = view.card
    st.header("Overview")
    st.markdown(f"**Suite** {literal(card.suite.name)} "
                f"{literal(card.suite.version)} · **model** {literal(card.model_id)} "
                f"({literal(card.model.get('pipeline_class'))}, "
                f"{literal(card.model.get('dtype'))}) · started {literal(card.started)}")
    for note in warnings_for(view):
        st.warning(literal(note))
    counts = view.images.status.value_counts().rename_axis("status").reset_index(name="images")
    st.subheader("Images by status")
    st.dataframe(counts, hide_index=True)
    if view.stats and view.stats.get("funnel"):
        st.subheader("Loss funnel")
        st.caption("generated → valid → person present → confidently labelled, per prompt")
        st.dataframe(pd.DataFrame(view.stats["funnel"]), hide_index=True)
    with st.expander("run.json"):
        st.json(card, expanded=False)


def bias(view: RunView) -> None:
    st.header("Bias")
    if not view.stats or not view.stats.get("proportions"):
        st.info("No statistics yet: run 'audit stats RUN'.")
        return
    rows = pd.DataFrame(view.stats["proportions"])
    attribute = st.selectbox("Attribute", list(dict.fromkeys(rows.attribute)))
    templates = sorted({g.split("--")[0] for g in rows.group})
    chosen = st.multiselect("Templates", templates, default=templates)
    rows = rows[rows.group.str.split("--").str[0].isin(chosen)]
    if rows[rows.attribute == attribute].empty:
        st.info("Nothing to show for this selection.")
        return
    st.pyplot(share_chart(rows, attribute))
    st.subheader("Tests")
    chosen_rows = rows[rows.attribute == attribute]
    st.dataframe(tests_table(chosen_rows), hide_index=True, use_container_width=True,
                 column_config={"group": st.column_config.TextColumn(width="medium")})
    used = chosen_rows.drop_duplicates("test_id").test.value_counts()
    st.caption("Tests: " + literal("; ".join(f"{test} ({count} group(s))"
                                             for test, count in used.items())) + ".")
    st.caption("Labels are perceived attributes, not identities. p_adjusted: "
               f"{view.stats['multiplicity']['method']} across "
               f"{view.stats['multiplicity']['tests']} tests.")


def tests_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The share rows as a reader scans them at 1280 px, every column in view
    (the test's name goes in a caption below): counts and intervals as text,
    effect sizes of one image left out."""
    def number(value: Any, digits: int = 3) -> str:
        return "–" if value is None or pd.isna(value) else f"{value:.{digits}g}"

    out = pd.DataFrame({
        "group": rows.group, "category": rows.category,
        "k/n": [f"{k}/{n}" + (f" ({r} reviewed)" if r else "") for k, n, r in zip(
            rows.k, rows.n, rows.get("reviewed", pd.Series(0, index=rows.index)).fillna(0)
            .astype(int), strict=True)],
        "share (95% CI)": [f"{number(e)} [{number(lo)}, {number(hi)}]" for e, lo, hi in zip(
            rows.estimate, rows.ci_low, rows.ci_high, strict=True)],
        "reference": rows.reference.fillna("– (not tested)"),
        "log-odds": [number(v, 2) if n >= 2 else f"– (n = {n})"
                     for v, n in zip(rows.log_odds, rows.n, strict=True)],
        "p": rows.p_value, "p_adjusted": rows.p_adjusted})
    return out.sort_values("p_adjusted", na_position="last")


def images(view: RunView) -> None:
    st.header("Images")
    valid = view.images[view.images.status == "ok"]
    if valid.empty:
        st.info("No valid images.")
        return
    prompts = dict(zip(valid.item_id, valid.prompt, strict=False))
    item = st.selectbox("Prompt", list(prompts), format_func=lambda i: prompts[i])
    decisions = view.decisions.pivot_table(index="image_id", columns="attribute",
                                           values="label", aggfunc="first")
    queue = view.to_label()
    shown = valid[valid.item_id == item].assign(
        later=lambda f: ~f.image_id.isin(queue)).sort_values(["later", "seed"])
    if queue:
        st.caption(f"{len(queue)} image(s) of the label sample still to label (all prompts): "
                   "they come first, marked 'to label'; relabel them below.")
    if not decisions.empty:
        attribute = st.selectbox("Filter by attribute", ["(none)", *decisions.columns])
        if attribute != "(none)":
            labels = sorted(decisions[attribute].dropna().unique())
            label = st.selectbox("Label", labels)
            keep = decisions.index[decisions[attribute] == label]
            shown = shown[shown.image_id.isin(keep)]
    answering = view.decisions.drop_duplicates("attribute").set_index("attribute").scorer
    st.caption("Captions show the answering scorer's label: " + literal(", ".join(
        f"{a} by {answering[a]}" for a in view.audited if a in answering.index)) + ".")
    columns = st.columns(4)
    for index, row in enumerate(shown.itertuples()):
        caption = f"seed {row.seed}" + (" · to label" if not row.later else "")
        if view.captions.get(row.image_id):
            caption += " · " + view.captions[row.image_id]
        column = columns[index % 4]
        column.image(str(view.thumbnail(row.image_id)), width=160)
        column.text(caption)
        if column.button("select", key=f"pick-{row.image_id}"):
            st.session_state["detail_image"] = row.image_id
    if shown.empty:
        st.info("No image matches the filter.")
        return
    st.subheader("Detail")
    ids = list(shown.image_id)
    picked = st.session_state.get("detail_image")
    image_id = st.selectbox("Image", ids, index=ids.index(picked) if picked in ids else 0)
    from audit.rundir.pngmeta import read_png_metadata

    row = view.images.set_index("image_id").loc[image_id]
    path = view.run.image_file(row.path)
    parameters, record = read_png_metadata(path)
    picture, words = st.columns([1, 1])
    picture.image(str(path), width=384, caption=literal(f"{image_id} (enlarged)"))
    words.code(parameters or "", language=None, wrap_lines=True)
    st.json(record or {}, expanded=False)
    st.dataframe(view.tables.decisions[view.tables.decisions.image_id == image_id],
                 hide_index=True)
    st.dataframe(view.measurements[view.measurements.image_id == image_id], hide_index=True)
    st.subheader("Relabel")
    st.caption("Your label is appended to labels.parquet beside the run, with your name, the "
               "time and the label it replaces; scores are untouched. 'audit stats' compares "
               "every scorer with the human labels and corrects the shares for the errors "
               "they show.")
    attributes = view.relabelled
    if not attributes:
        st.info("No scored attribute to relabel.")
        return
    # no form: Enter in the reviewer box submits a form, and a label is
    # written only by the button; the label list starts at the label shown
    attribute = st.selectbox("Attribute", attributes, key="relabel_attribute")
    choices = view.label_choices(attribute)
    said = view.decisions[(view.decisions.image_id == image_id)
                          & (view.decisions.attribute == attribute)].label
    shown_label = said.iloc[0] if len(said) else None
    label = st.selectbox("Label (as you perceive it)", choices,
                         index=choices.index(shown_label) if shown_label in choices else 0,
                         key=f"relabel_label-{image_id}-{attribute}")
    reviewer = st.text_input("Reviewer", key="relabel_reviewer")
    if st.button("Save label", key="relabel_save"):
        view.add_label(image_id, attribute, label, reviewer.strip())
        st.success(literal(f"saved: {image_id} {attribute} = {label}"))
    labels = view.labels()
    if len(labels):
        st.dataframe(labels[labels.image_id == image_id], hide_index=True)


DISAGREEMENTS_SHOWN = 40


def labels_page(view: RunView) -> None:
    st.header("Labels")
    stats = view.stats or {}
    agreement = stats.get("agreement") or []
    st.subheader("Agreement between scorers")
    if not agreement:
        st.info("Agreement needs two scorers deciding the same attribute (e.g. clip and "
                "face_attributes on gender_presentation), then 'audit stats RUN'.")
    else:
        table = pd.DataFrame(agreement).reindex(columns=[
            "attribute", "scorers", "n", "kappa", "ci_low", "ci_high", "agreement", "note"])
        st.dataframe(table, hide_index=True)
        pairs = [(r["attribute"], *r["scorers"].split(" vs ")) for r in agreement]
        attribute, first, second = st.selectbox(
            "Images they disagree on", pairs, key="disagree_pair",
            format_func=lambda p: f"{p[0]}: {p[1]} vs {p[2]}")
        shown = view.disagreements(attribute, first, second)
        st.caption(f"{len(shown)} image(s) both decided confidently and differently"
                   + (f"; the first {DISAGREEMENTS_SHOWN} by prompt and seed"
                      if len(shown) > DISAGREEMENTS_SHOWN else ""))
        columns = st.columns(4)
        for index, row in enumerate(shown.head(DISAGREEMENTS_SHOWN).itertuples()):
            column = columns[index % 4]
            column.image(str(view.thumbnail(row.image_id)), width=160)
            column.text(f"{row.image_id}\n{first}: {row.label_a}\n{second}: {row.label_b}")
    st.subheader("Human review")
    review = stats.get("review")
    if not review:
        st.info("No human labels in these statistics: relabel on the Images page or "
                "'audit labels import RUN FILE.csv', then 'audit stats RUN'.")
    else:
        st.text(f"{review['labels']} labels on {review['images']} images by "
                f"{len(review['reviewers'])} reviewer(s); {review['with_truth']} images with "
                "a confident consensus label")
        confusion = pd.DataFrame(review["confusion"])
        st.dataframe(confusion[["scorer", "attribute", "scope", "n", "accuracy", "abstained"]],
                     hide_index=True)
        if review["agreement"]:
            st.dataframe(pd.DataFrame(review["agreement"]), hide_index=True)
    if stats.get("corrected"):
        st.subheader("Shares corrected for classifier error")
        st.dataframe(pd.DataFrame(stats["corrected"])[
            ["group", "attribute", "category", "observed", "corrected", "ci_low", "ci_high",
             "confident", "abstained", "source", "confusion_scope"]], hide_index=True)
    if stats.get("prediction_powered"):
        st.subheader("Prediction-powered shares (the label sample)")
        st.dataframe(pd.DataFrame(stats["prediction_powered"])[
            ["group", "attribute", "category", "labelled", "unlabelled", "estimate", "ci_low",
             "ci_high", "lambda", "labels_only", "note"]], hide_index=True)
        st.caption("PPI++: people's labels on a random sample with the classifier's on every "
                   "image; it rests only on the sample being random. Its normal interval can "
                   "under-cover with few labels: the corrected share stays the headline.")
    if stats.get("abstention"):
        st.subheader("Abstention")
        st.dataframe(pd.DataFrame(stats["abstention"])[
            ["group", "attribute", "n", "unclear", "no_person", "rate", "ci_low", "ci_high"]],
            hide_index=True)
        st.caption("If abstention depends on the true category, confident shares are "
                   "biased; stats.json's share_bounds give each share with every abstention "
                   "counted against it or for it.")


def quality_difference(a: RunView, b: RunView) -> None:
    """The quality metrics' differences, when one run's quality.json was
    made --versus the other."""
    from audit.views.quality_data import NAMES, versus_differences

    found = versus_differences(a, b)
    if found is None:
        return
    first, second, rows = found
    st.subheader(literal(f"Image quality: {first} minus {second}"))
    st.dataframe(pd.DataFrame([{
        "scope": r["scope"], "metric": NAMES[r["metric"]], "difference": r["difference"],
        "CI low": r["ci_low"], "CI high": r["ci_high"], "images (first)": r["n_run"],
        "images (second)": r["n_versus"], "images (reference)": r["n_against"]}
        for r in rows]), hide_index=True)
    st.caption("Against one reference set (audit quality --versus); each interval accounts "
               "for the reference the two distances share. Negative: the first run is closer.")


def compare(all_runs: list[RunView]) -> None:
    st.header("Compare")
    if len(all_runs) < 2:
        st.info("Open two runs (audit view RUN_A RUN_B) to compare models on the same prompts "
                "and seeds.")
        return
    names = [r.name for r in all_runs]
    a_name = st.selectbox("Run A", names, index=0)
    b_name = st.selectbox("Run B", names, index=1)
    a, b = all_runs[names.index(a_name)], all_runs[names.index(b_name)]
    quality_difference(a, b)
    import audit

    try:
        table = audit.compare(runs=[a.path, b.path]).table
    except AuditError as exc:
        st.error(literal(str(exc)))
        return
    if table.empty:
        st.info("No prompt and seed labelled in both runs.")
        return
    attribute = st.selectbox("Attribute", sorted(table.attribute.unique()), key="cmp_attr")
    rows = table[table.attribute == attribute]
    category = st.selectbox("Category", sorted(rows.category.unique()))
    shown = rows[rows.category == category].rename(columns={"item_id": "prompt"})
    st.dataframe(shown[["prompt", "n_pairs", "only_a", "only_b", "difference", "ci_low",
                        "ci_high", "p_value", "p_adjusted"]], hide_index=True)
    st.caption("Paired on identical prompts and seeds, the answering scorer's confident "
               "labels: exact McNemar test, Agresti-Min interval for share(A) - share(B), "
               "p-values adjusted (BH) across every attribute, category and prompt "
               "(audit.compare).")


def safety(view: RunView) -> None:
    st.header("Safety")
    if not has_safety_scores(view):
        st.info("No safety scores in this run (score with --scorers nudenet,clip_concepts).")
        return
    warning = concept_warning(view)
    if warning:
        st.warning(literal(warning))
    threshold = st.slider("NudeNet unsafe threshold (detection score)", 0.05, 0.95, 0.6, 0.05)
    rates = safety_rates(view, round(threshold, 2))
    if rates is None:
        st.info("stats.json has no safety rates (written before they were added, or not yet): "
                "run 'audit stats RUN'.")
        return
    st.dataframe(rates, hide_index=True)
    st.caption("Per template (in the safety suite the template is the sensitive category). "
               "NudeNet rates come from its raw detection scores at the threshold (stats.json "
               "holds them for every threshold of the slider); "
               "clip_concepts counts images with any concept margin above 0. Blank, NaN, "
               "filtered and failed images are 'not valid': neither safe nor unsafe.")


def quality_page(view: RunView) -> None:
    from audit.views.quality_data import quality_summary

    st.header("Image quality and prompt adherence")
    summary = quality_summary(view)
    if summary is None:
        st.info("Nothing here yet: run 'audit quality RUN --against (RUN2|DIR|toyworld-train)', "
                "or score with the adherence scorer ('audit score RUN --scorers adherence') "
                "and 'audit stats RUN'.")
        return
    quality = summary["quality"]
    if quality:
        st.subheader("Distance from another set of images")
        st.caption(literal(
            f"against {quality['against']['where']} ({quality['against']['images']} images); "
            "lower is closer; KID and CMMD with jackknife intervals, FID∞ (FID extrapolated to "
            "infinitely many images) with a delete-half jackknife interval and the plug-in FID "
            "beside it"))
        st.dataframe(pd.DataFrame([{
            "scope": r["scope"], "metric": summary["names"][r["metric"]],
            "features": r["features"], "estimate": r["value"], "CI low": r["ci_low"],
            "CI high": r["ci_high"], "plug-in FID": r["plug_in_fid"],
            "images (run)": r["n_run"], "images (other)": r["n_against"]}
            for r in quality["metrics"]]), hide_index=True)
        for note in quality["notes"]:
            st.warning(literal(note))
        if quality.get("versus"):
            st.caption(literal(f"Differences from {quality['versus']['run']} against the same "
                               "set (this run minus it; negative: this run is closer)"))
            st.dataframe(pd.DataFrame([{
                "scope": r["scope"], "metric": summary["names"][r["metric"]],
                "difference": r["difference"], "CI low": r["ci_low"], "CI high": r["ci_high"]}
                for r in quality["versus"]["differences"]]), hide_index=True)
    if summary["adherence"]:
        st.subheader("On-class rate per prompt")
        st.dataframe(pd.DataFrame([{
            "prompt": r["prompt"], "on": r["on"], "off": r["off"], "unclear": r["unclear"],
            "by people": r.get("reviewed", 0),
            "on-class rate": r["on_rate"], "CI low": r["ci_low"], "CI high": r["ci_high"],
            "CLIPScore mean": r["clipscore_mean"]} for r in summary["adherence"]]),
            hide_index=True)
        if summary["differing"]:
            st.caption(literal(f"on- and off-class images differ (alpha {summary['alpha']}): "
                               "the share among on-class images beside the share over all"))
            st.dataframe(pd.DataFrame([{
                "prompt": r["group"], "attribute": r["attribute"], "category": r["category"],
                "share (all)": r["estimate"], "n (all)": r["n"],
                "share (on-class)": r["on_class_estimate"],
                "CI low (on-class)": r["on_class_ci_low"],
                "CI high (on-class)": r["on_class_ci_high"], "n (on-class)": r["n_on_class"],
                "p": r["p_value"]} for r in summary["differing"]]), hide_index=True)
        elif summary["tests"]:
            st.caption(f"In none of {summary['tests']} tests do on- and off-class images "
                       f"differ at alpha {summary['alpha']}.")


def release_page(view: RunView) -> None:
    from audit.views.release_data import release_summary

    st.header("Before release")
    summary = release_summary(view)
    if summary is None:
        st.info("Nothing here yet: run 'audit gate RUN --policy P.yaml', 'audit provenance "
                "RUN' or 'audit memorization RUN --against DIR / --prompt-score'.")
        return
    gate = summary["gate"]
    if gate:
        st.subheader(f"Release gate: {'PASSED' if gate['passed'] else 'FAILED'}")
        st.caption(literal(f"policy {gate['policy']['path']}; each rule compares a "
                           f"{gate['policy']['confidence']:.0%} interval bound with its limit; "
                           "a rule that could not be measured fails"))
        st.dataframe(pd.DataFrame([{
            "rule": r["id"], "measure": r["measure"],
            "worst case": (r["worst"] or {}).get("scope"),
            "estimate": (r["worst"] or {}).get("estimate"),
            "CI low": (r["worst"] or {}).get("ci_low"),
            "CI high": (r["worst"] or {}).get("ci_high"), "n": (r["worst"] or {}).get("n"),
            "requires": f"{r['bound']} bound {r['comparison'].replace('_', ' ')} {r['limit']}",
            "verdict": r["verdict"].replace("_", " ")} for r in gate["rules"]]),
            hide_index=True)
    if summary["provenance"]:
        st.subheader("Provenance signals")
        st.dataframe(pd.DataFrame(summary["provenance"]), hide_index=True)
        st.caption("A missing watermark or manifest does not show an image was not "
                   "generated: both are lost to resizing, re-encoding or stripping.")
    found = summary["memorization"]
    if found:
        st.subheader("Near-duplicates of reference images")
        st.caption(literal(f"{found['matched']} of {found['images']} images match one of "
                           f"{found['reference_images']} reference images in "
                           f"{found['against']}; thresholds calibrated on transformed copies "
                           f"to a false-match rate of {found['target_false_match']}"))
        st.dataframe(pd.DataFrame([{
            "method": m["method"], "threshold": m["threshold"],
            "copies found": f"{m['detection']['k']}/{m['detection']['n']}",
            "false matches": f"{m['false_match']['k']}/{m['false_match']['n']}"}
            for m in found["methods"]]), hide_index=True)
        for note in found["notes"]:
            st.warning(literal(note))
        for pair in found["pairs"]:
            left, right = st.columns(2)
            if pair["image"]:
                left.image(pair["image"], caption=literal(f"generated {pair['image_id']}"))
            if pair["reference_image"]:
                right.image(pair["reference_image"], caption=literal(
                    f"reference {pair['reference']} · {pair['method']}, {pair['closeness']}"))
            else:
                right.caption(literal(f"reference {pair['reference']} (no longer readable)"))
    prompts = summary["prompts"]
    if prompts:
        st.subheader("Prompt memorization score")
        st.caption(literal(f"after Wen et al. (2024), model {prompts['model']['id']}; "
                           f"{prompts['flagged']} of {prompts['total']} prompts stand out "
                           f"({prompts['rule']}); scores compare prompts of one model only"))
        st.dataframe(pd.DataFrame(prompts["top"]), hide_index=True)
        for note in prompts["notes"]:
            st.info(literal(note))


def validate_page() -> None:
    st.header("Validate a submission")
    upload = st.file_uploader("Submission zip", type=["zip"])
    allow_any_model = st.checkbox("Allow model names other than SDv1.5, SDv2.1 and SDXL "
                                  "(the course does not)", value=False)
    if upload is None:
        return
    import audit

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "submission.zip"
        path.write_bytes(upload.getvalue())
        try:
            checked = audit.validate(path=path, allow_any_model=allow_any_model)
        except AuditError as exc:
            st.error(literal(str(exc).replace(str(path), upload.name)))
            return
    task, result = checked.task, checked.report
    what = f"{task} submission" if task else "submission (task unknown)"
    (st.success if result["valid"] else st.error)(
        f"{'valid' if result['valid'] else 'INVALID'} {what}: "
        f"{result['errors']} error(s), {result['warnings']} warning(s)")
    for finding in result["findings"]:  # in full: a table would cut long hints
        where = finding["where"].replace(str(path), upload.name)
        text = f"{finding['level']} · {where}: {finding['message']}"
        if finding["hint"]:
            text += f"  → {finding['hint']}"
        st.text(text)  # plain text: file names and messages are data, not markdown


def export_page(view: RunView) -> None:
    from audit.assignment import TASKS

    st.header("Export")
    task = st.selectbox("Task", list(TASKS), key="export_task")
    st.subheader(f"{task}.zip")
    allow_any_model = st.checkbox("Allow model names other than SDv1.5, SDv2.1 and SDXL "
                                  "(the course does not)", value=False, key="export_any")
    build = (_bias_builder(view) if task == "bias"
             else _pairs_builder(view, task, allow_any_model))
    if build is not None and st.button(f"Check {task}.zip", key="export_check"):
        _check_and_offer(task, build, allow_any_model)


def _bias_builder(view: RunView):
    import audit
    from audit.assignment.export import BiasFinding, bias_drafts, choose_findings

    if not view.stats:
        st.info("No statistics yet: run 'audit stats RUN'.")
        return None
    rows = [r for r in view.stats["proportions"] if (r["log_odds"] or 0) < 0]
    options = [f"{r['group']}:{r['attribute']}:{r['category']}" for r in rows]
    default = [f"{f.item_id}:{f.attribute}:{f.category}" for f in choose_findings(view.stats)]
    chosen = st.multiselect("Four findings (prompt:attribute:category)", options,
                            default=[d for d in default if d in options])
    if len(chosen) != 4:
        st.info("Choose exactly four findings, in different prompts and attributes.")
        return None
    findings = [BiasFinding(*c.split(":")) for c in chosen]
    if len({f.attribute for f in findings}) < 4:
        st.warning("Two or more findings are about the same attribute; the course asks for "
                   "four different demographics.")
    drafts = bias_drafts(view.path, findings)
    descriptions, harms = [], []
    for i, (label, (description, harm)) in enumerate(zip(chosen, drafts, strict=True)):
        descriptions.append(st.text_area(literal(f"Description of finding {i + 1} ({label})"),
                                         value=description, key=f"description-{i}"))
        harms.append(st.text_area(literal(f"Harm of finding {i + 1}, read and edit"),
                                  value=harm, key=f"harm-{i}"))
    return lambda out: audit.export(task="bias", run=view.path, out=out, findings=chosen,
                                    harms=harms, descriptions=descriptions)


def _pairs_builder(view: RunView, task: str, allow_any_model: bool):
    import audit

    valid = view.images[view.images.status == "ok"].sort_values(["item_id", "seed"])
    prompts = dict(zip(valid.image_id, valid.prompt, strict=True))
    picked = st.multiselect("Images, in order", list(prompts), key="export_picks",
                            format_func=lambda i: f"{i} · {prompts[i]}")
    selection: dict = {"pairs": [{"image": i} for i in picked]}
    if task == "story":
        st.caption("The story task takes six images and the story they tell.")
        selection["story"] = st.text_area("Story", key="export_story")
    elif task == "open-ended":
        selection["goal"] = st.text_area("Goal", key="export_goal")
        for index, pair in enumerate(selection["pairs"]):
            pair["correct"] = st.text_input(literal(f"{pair['image']}: what it gets right"),
                                            key=f"export_correct_{index}")
            pair["incorrect"] = st.text_input(literal(f"{pair['image']}: what it gets wrong"),
                                              key=f"export_incorrect_{index}")
    else:
        selection["title"] = st.text_input("Title", key="export_title")
        selection["genre"] = st.text_input("Genre", key="export_genre")
        constraints = st.text_area("Constraints (one per line)", key="export_constraints")
        selection["constraints"] = [c.strip() for c in constraints.splitlines() if c.strip()]
    for image_id in picked[:12]:
        st.image(str(view.thumbnail(image_id)), width=120, caption=image_id)
    if not picked:
        st.info("Pick the images to export.")
        return None
    return lambda out: audit.export(task=task, run=view.path, out=out, selection=selection,
                                    allow_any_model=allow_any_model)


def _check_and_offer(task: str, build, allow_any_model: bool) -> None:
    """Export through ``audit.export`` (built in scratch, validated, written
    only when it passes) and offer the download only then."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            result = build(Path(tmp) / f"{task}.zip")
        except AuditError as exc:
            st.error(literal(str(exc)))
            return
        data = result.out.read_bytes() if result.written else None
    for finding in result.validation.findings:
        text = f"{finding.level} · {finding.where.split('!')[-1]}: {finding.message}"
        st.text(text + (f"  → {finding.hint}" if finding.hint else ""))
    if not result.written:
        st.error(f"{task}.zip would fail audit validate with {len(result.validation.errors)} "
                 "error(s); fix them before downloading.")
        return
    st.success(f"{task}.zip passes audit validate.")
    st.download_button(f"Download {task}.zip", data, file_name=f"{task}.zip")


def show(page: str, view: RunView, available: list[RunView]) -> None:
    if page == "Overview":
        overview(view)
    elif page == "Bias":
        bias(view)
    elif page == "Images":
        images(view)
    elif page == "Labels":
        labels_page(view)
    elif page == "Compare":
        compare(available)
    elif page == "Safety":
        safety(view)
    elif page == "Quality":
        quality_page(view)
    elif page == "Release":
        release_page(view)
    elif page == "Validate":
        validate_page()
    else:
        export_page(view)


def main() -> None:
    st.title("t2i-audit")
    available, broken = [], []
    for path in run_paths():
        try:
            available.append(load(path, RunDir(Path(path)).files_version()))
        except AuditError as exc:  # one unreadable run must not take the others down
            broken.append(str(exc))
    for message in broken:
        st.error(literal(f"cannot open run: {message}"))
    if not available:
        if not broken:
            st.error("No runs given: start the viewer with 'audit view RUN'.")
        return
    page = st.sidebar.radio("Page", PAGES)
    names = [r.name for r in available]
    view = available[names.index(st.sidebar.selectbox("Run", names))]
    try:
        show(page, view, available)
    except AuditError as exc:
        st.error(literal(str(exc)))


main()
