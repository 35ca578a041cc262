"""Compute (Nova): flavors, key pairs, quotas, servers and their actions."""
