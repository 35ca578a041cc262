"""Nova v2.1 (compute) under ``/<region>/compute``: versions, flavors, key pairs, quotas, ..."""
