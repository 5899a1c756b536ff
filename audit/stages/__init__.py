"""Pipeline stages; each is a function of the run directory."""
