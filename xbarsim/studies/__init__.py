"""Accuracy studies on real data: datasets, the study model families, training and sweeps."""
