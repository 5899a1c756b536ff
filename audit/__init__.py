"""t2i-audit: bias and safety audits for text-to-image models.

Importing this package stays cheap (no torch, no diffusers); heavy modules
load only when a stage that needs them runs.
"""

__version__ = "0.1.0"
