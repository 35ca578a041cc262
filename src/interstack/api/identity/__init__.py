"""Keystone v3: discovery, tokens, catalog, and the identity resources."""
