"""``audit run``: every stage in one command. Its options are the stages'
(``audit.options``): generation, scoring, statistics and the report's."""

from __future__ import annotations

import inspect
from typing import Any

import typer

from audit.cli import generate as gen
from audit.cli import options as cli_options
from audit.cli import score as sc
from audit.cli import stats as st
from audit.options import GenerationOptions, ReportOptions, ScoringOptions, StatsOptions

# Both generation and statistics have a seed: in a whole run --seed is the
# images', --stats-seed the bootstrap's.
_RENAMED: cli_options.Renames = {"seed": ("stats_seed", ("--stats-seed",))}

# What only a whole run has: how scoring meets generation.
_OWN = [inspect.Parameter(
    "score_after", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
    default=typer.Option(False, "--score-after", rich_help_panel="Scoring",
                         help="Score from the stored PNGs after "
                         "generating (as audit score does) instead of from each batch's "
                         "pixels while the next one generates. The tables are the same."))]


def run(**values: Any) -> None:
    """Generate, score, assess and write the report in one go. Rerunning resumes.

    Example: audit run smoke --model tiny -S clip.model=tiny-random -S clip.pretrained=none
    """
    import audit
    from audit.cli.progress import Reporter
    from audit.cli.render import print_summary

    kwargs, config = gen.generation_keywords(values)
    scoring = sc.scoring_keywords(values, config)
    stats = StatsOptions.merge(flags=cli_options.flags_layer(StatsOptions, values,
                                                             renames=_RENAMED),
                               config=config.get("stats") or {})
    report = ReportOptions.merge(flags=cli_options.flags_layer(ReportOptions, values),
                                 config=config)
    gen.warn_content(kwargs)
    what = kwargs.get("suite") or "a quick run"
    with Reporter("audit run") as reporter:
        result = audit.run(**kwargs, scorers=scoring.get("scorers"),
                           scorer_options=scoring.get("scorer_options"),
                           score_device=scoring.get("device", "auto"),
                           score_batch_size=scoring.get("batch_size"), stats=stats,
                           fused=False if values["score_after"] else config.get("fused"),
                           report=config.get("report", True),
                           grid_intensity=report.get("grid_intensity"),
                           command=cli_options.command_line(),
                           progress={"generate": reporter.stage(
                               f"generating {what} on {kwargs.get('model')}"),
                               "score": reporter.stage("scoring")})
    gen.print_generated(result.generated)
    sc.print_scored(result.scored)
    print_summary(result.assessed.document, st.console,
                  hint=f"audit stats {result.run_dir} --all")
    st.console.print(f"wrote {result.assessed.path} and {result.report}", markup=False)


run.__signature__, run.__annotations__ = cli_options.signature(  # type: ignore[attr-defined]
    cli_options.parameters(GenerationOptions), [cli_options.ConfigParameter],
    cli_options.parameters(ScoringOptions), cli_options.parameters(StatsOptions, _RENAMED),
    cli_options.parameters(ReportOptions), _OWN)


def register(app: typer.Typer) -> None:
    app.command("run", cls=cli_options.SectionedCommand)(run)
