"""A procedural world of stylised people with known attributes: the ground
truth that trained toy models are audited against."""
