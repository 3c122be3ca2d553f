"""Turning Hydra's composed config into typed objects, with one-line errors for bad values."""
