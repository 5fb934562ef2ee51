"""Seeded mutation fuzzing of model files and probes: `make test` runs a small budget, `make fuzz` a large one."""
