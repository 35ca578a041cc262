"""Cinder v3 (block storage) under ``/<region>/volume/v3/<project_id>``: volumes, snapshots,
types, quotas, limits, availability zones."""
