"""Block storage (Cinder v3): volumes, snapshots, volume types, attachments, quotas."""
