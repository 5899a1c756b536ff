"""Helpers every stage uses (devices, hashes, progress); no stage imports another's."""
