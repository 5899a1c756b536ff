"""The run directory (contract in DESIGN.md): every stage reads and writes here."""
