"""MkDocs hook: pages that say ``<!-- generated: NAME -->`` get that part
from the code itself (the CLI's own help, arguments and options; the options
each registered scorer and backend declares), so the site never retypes a
flag and cannot drift from the commands."""

from __future__ import annotations

from typing import Any


def _command() -> Any:
    import typer

    from audit.cli import _register, app

    _register()
    return typer.main.get_command(app)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(command: Any, path: list[str], context: Any) -> list[str]:
    name = " ".join(path)
    out = [f"## `{name}`", ""]
    help_text = (command.help or "").strip()
    if help_text:
        first, _, rest = help_text.partition("\n\n")
        out += [_cell(first), ""]
        if rest.strip():
            out += ["```", rest.strip(), "```", ""]
    usage = command.collect_usage_pieces(context)
    out += ["```", f"{name} {' '.join(usage)}".rstrip(), "```", ""]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [p for p in command.params
               if p.param_type_name == "option" and not p.hidden]
    if arguments:
        out += ["| argument | meaning |", "|---|---|"]
        out += [f"| `{p.name.upper()}` | {_cell(p.help or '')} |" for p in arguments]
        out.append("")
    if options:
        out += ["| option | meaning |", "|---|---|"]
        for option in options:
            record = option.get_help_record(context)
            if record:
                out.append(f"| `{_cell(record[0])}` | {_cell(record[1])} |")
        out.append("")
    return out


def markdown() -> str:
    """One section per command and subcommand, in the order ``audit --help`` lists them."""
    import typer._click as click_core

    root = _command()
    lines: list[str] = []

    def walk(command: Any, path: list[str]) -> None:
        context = click_core.Context(command, info_name=" ".join(path))
        subcommands = getattr(command, "commands", None)
        if path != ["audit"]:
            lines.extend(_section(command, path, context))
        for name, sub in (subcommands or {}).items():
            if not sub.hidden:
                walk(sub, [*path, name])

    walk(root, ["audit"])
    return "\n".join(lines).rstrip() + "\n"



def _options_table(registry: Any) -> str:
    lines = []
    for name in registry.names():
        cls = registry.get(name)
        lines += [f"### `{name}`", ""]
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        if doc:
            lines += [" ".join(doc.split()), ""]
        options = getattr(cls, "options", {})
        if options:
            lines += ["| option | meaning |", "|---|---|"]
            lines += [f"| `{key}` | {' '.join(str(text).split())} |"
                      for key, text in options.items()]
        else:
            lines.append("No options.")
        lines.append("")
    return "\n".join(lines)


def _generated(name: str) -> str:
    if name == "cli":
        return markdown()
    if name == "scorer-options":
        from audit.scorers import SCORERS

        return _options_table(SCORERS)
    if name == "generator-options":
        from audit.generators import GENERATORS

        return _options_table(GENERATORS)
    raise ValueError(f"unknown generated part '{name}'")


def on_page_markdown(markdown: str, **_: Any) -> str:
    marker = "<!-- generated: "
    while marker in markdown:
        start = markdown.index(marker)
        end = markdown.index("-->", start)
        name = markdown[start + len(marker):end].strip()
        markdown = markdown[:start] + _generated(name) + markdown[end + 3:]
    return markdown
