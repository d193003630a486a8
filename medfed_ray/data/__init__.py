"""Datasets, their split into a global test set, and partitioning over hospitals."""
