"""Metric functions on NumPy label images; no torch, so they import fast and test fast."""
