"""A CLIP tokenizer built offline from the BPE vocabulary open_clip ships.

No hub access anywhere, so the transformers ``CLIPTokenizer`` that tiny and
toy pipelines need is rebuilt from ``bpe_simple_vocab_16e6.txt.gz`` the same
way open_clip's own SimpleTokenizer builds its vocabulary.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from functools import cache
from pathlib import Path

from audit.errors import UsageError

N_MERGES = 49152 - 256 - 2


def bpe_vocab_path() -> Path:
    # Located without importing open_clip (which imports torchvision).
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("open_clip is not installed; it ships the CLIP BPE vocabulary")
    path = Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        raise UsageError(f"open_clip's BPE vocabulary is missing at {path}")
    return path


@cache
def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table, as CLIP uses it."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars), strict=True))


def write_clip_tokenizer_files(folder: Path) -> Path:
    """Write vocab.json and merges.txt for ``CLIPTokenizer`` into ``folder``."""
    with gzip.open(bpe_vocab_path(), "rt", encoding="utf-8") as fh:
        merges = fh.read().split("\n")[1:N_MERGES + 1]
    byte_chars = list(_bytes_to_unicode().values())
    vocab = byte_chars + [c + "</w>" for c in byte_chars]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    config = {"model_max_length": 77, "bos_token": "<|startoftext|>",
              "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
              "pad_token": "<|endoftext|>", "do_lower_case": True}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def clip_tokenizer(folder: Path):
    """A transformers CLIPTokenizer (77 tokens) from the shipped vocabulary."""
    from transformers import CLIPTokenizer

    # from_pretrained on a folder reads the files the same way across
    # transformers 4 (file arguments) and 5 (in-memory vocab arguments).
    return CLIPTokenizer.from_pretrained(str(write_clip_tokenizer_files(folder)))
