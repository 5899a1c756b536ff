"""The invisible watermark SDXL pipelines embed (invisible-watermark's
``dwtDct`` on the BGR image, a fixed 48-bit message; diffusers skips images
under 256 px), decoded and compared bit by bit with that message."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The message SDXL's reference code and diffusers' StableDiffusionXLWatermarker embed.
SDXL_MESSAGE = 0b101100111110110010010000011110111011000110011110
SDXL_BITS = np.array([int(b) for b in f"{SDXL_MESSAGE:048b}"], dtype=np.uint8)
MIN_SIDE = 256  # the watermarker leaves smaller images unmarked
# Present when at least 38 of 48 bits match the message, or at most 10 (the
# whole message inverted, which dwtDct's rounding to uint8 produces on some
# images): bits unrelated to the message (fair coins) do either with
# probability 6e-5. Unmarked images mostly decode to near-constant bits,
# further still from both (benchmarks/provenance_robustness.py measures it).
PRESENT_BITS = 38

PRESENT, ABSENT, UNDECODABLE = "present", "absent", "undecodable"


@dataclass(frozen=True)
class WatermarkReading:
    status: str
    bit_accuracy: float | None  # matching bits / 48; None when not decoded
    note: str | None = None


def read_watermark(rgb: np.ndarray) -> WatermarkReading:
    """``rgb``: H x W x 3 uint8."""
    from imwatermark import WatermarkDecoder

    height, width = rgb.shape[:2]
    if min(height, width) < MIN_SIDE:
        return WatermarkReading(UNDECODABLE, None, f"{width}x{height}: under {MIN_SIDE} px, "
                                "which the SDXL watermarker leaves unmarked")
    try:
        bits = np.asarray(WatermarkDecoder("bits", len(SDXL_BITS)).decode(
            np.ascontiguousarray(rgb[:, :, ::-1]), "dwtDct"), dtype=np.uint8)
    except Exception as exc:  # noqa: BLE001 (the decoder's own failures: a status)
        return WatermarkReading(UNDECODABLE, None, f"decoder failed: {type(exc).__name__}")
    matching = int((bits == SDXL_BITS).sum())
    inverted = len(SDXL_BITS) - matching >= PRESENT_BITS
    return WatermarkReading(PRESENT if matching >= PRESENT_BITS or inverted else ABSENT,
                            matching / len(SDXL_BITS),
                            "the message decoded inverted" if inverted else None)
