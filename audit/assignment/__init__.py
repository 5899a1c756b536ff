"""The course assignment's submission formats: validate zips, export runs."""

TASKS = ("bias", "story", "open-ended", "movie-poster")
MODELS = ("SDv1.5", "SDv2.1", "SDXL")  # the only model names the course accepts
