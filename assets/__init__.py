"""Bundled default model (weights, config, sample sheet)."""
