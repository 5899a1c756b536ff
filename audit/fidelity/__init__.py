"""How far a run's images are, as a distribution, from another set of images:
the sets (``image_sets``), their features (``features``: CLIP, and the FID
Inception network of ``inception`` after the pinned ``preprocess``), and
the distances with their intervals (``distances``)."""
