"""Keystone v3 identity: authentication, tokens, domains/projects/users/roles, policy."""
