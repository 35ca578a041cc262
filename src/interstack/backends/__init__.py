"""Backends: the clouds that do the work behind each region (contract.py says what they must do)."""
