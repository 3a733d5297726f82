"""Time-lapse tracking: stage drift, linking migrasomes and cells over frames, track tables."""
