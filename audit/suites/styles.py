"""WebUI styles (``styles.csv``: name, prompt, negative_prompt) applied to a
suite's prompts as WebUI applies them: a style text with ``{prompt}`` has
the prompt put in its place; one without is appended after ", "."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.errors import InvalidInput, UsageError
from audit.registry import suggest

PLACEHOLDER = "{prompt}"


def read_styles(path: Path) -> dict[str, dict[str, str]]:
    from audit.user_tables import read_csv, require_columns

    frame = read_csv(Path(path))
    require_columns(frame, ["name", "prompt"], Path(path))
    styles: dict[str, dict[str, str]] = {}
    for index, row in frame.iterrows():
        name = str(row["name"]).strip()
        if not name:
            raise InvalidInput("field name: empty value", where=f"{path}:{index + 2}")
        styles[name] = {"prompt": str(row.get("prompt", "")),
                        "negative_prompt": str(row.get("negative_prompt", "") or "")}
    return styles


def apply_style(style: str, text: str) -> str:
    from audit.suites.prompt_limits import MAX_PROMPT_CHARS, styled_length

    if not style:
        return text
    length = styled_length(style, text, PLACEHOLDER)
    if length > MAX_PROMPT_CHARS:
        raise InvalidInput(f"the style makes a prompt of {length} characters; more than "
                           f"{MAX_PROMPT_CHARS} is refused")
    if PLACEHOLDER in style:
        return style.replace(PLACEHOLDER, text)
    return f"{text}, {style}" if text else style


def styled(data: dict[str, Any], names: list[str], path: Path) -> tuple[dict[str, Any],
                                                                       list[dict[str, str]]]:
    """The suite's data with the styles applied to every template and
    negative prompt, in the order given, and what was applied (for run.json)."""
    styles = read_styles(path)
    applied = []
    data = {**data, "templates": [dict(t) for t in data["templates"]]}
    for name in names:
        if name not in styles:
            raise UsageError(f"no style '{name}'{suggest(name, list(styles))} "
                             f"(styles: {', '.join(styles) or 'none'})", where=str(path))
        style = styles[name]
        try:
            _apply_all(data, style)
        except InvalidInput as exc:
            raise InvalidInput(f"style '{name}': {exc.message}", where=str(path)) from None
        applied.append({"name": name, **style})
    return data, applied


def _apply_all(data: dict[str, Any], style: dict[str, str]) -> None:
    for template in data["templates"]:
        template["text"] = apply_style(style["prompt"], template["text"])
        if "negative_prompt" in template:
            template["negative_prompt"] = apply_style(style["negative_prompt"],
                                                      template["negative_prompt"])
    data["negative_prompt"] = apply_style(style["negative_prompt"],
                                          data.get("negative_prompt", ""))
