"""A tiny random ViLT-VQA folder built from config, with a word-level BERT
tokenizer written here: the real transformers loading path, no hub."""

from __future__ import annotations

from pathlib import Path

WORDS = ["does", "this", "image", "show", "a", "an", "nurse", "chef", "astronaut", "?"]


def save_tiny_vqa(folder: Path, *, answers: tuple[str, ...] = ("yes", "no", "maybe"),
                  seed: int = 0, lean: str | None = None) -> Path:
    """``lean``: an answer whose output bias is raised by 8, so the model
    gives it whatever it sees."""
    import torch
    from transformers import (
        BertTokenizerFast,
        ViltConfig,
        ViltForQuestionAnswering,
        ViltImageProcessor,
        ViltProcessor,
    )

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    processor = ViltProcessor(image_processor=ViltImageProcessor(
        size={"shortest_edge": 64}, size_divisor=32), tokenizer=tokenizer)
    torch.manual_seed(seed)
    config = ViltConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=37, image_size=64,
                        patch_size=32, max_position_embeddings=40, max_image_length=-1,
                        num_images=-1, id2label=dict(enumerate(answers)),
                        label2id={a: i for i, a in enumerate(answers)})
    model = ViltForQuestionAnswering(config).eval()
    if lean is not None:
        with torch.no_grad():
            model.classifier[-1].bias[answers.index(lean)] += 8.0
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
