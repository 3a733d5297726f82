"""Measurements of predicted label images: migrasome tables, fibers, cells, ROI sets."""
