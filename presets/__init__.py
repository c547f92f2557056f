"""Shipped presets."""
