"""Simulator of migrasome images with exact masks (the default dataset and pretraining data)."""
