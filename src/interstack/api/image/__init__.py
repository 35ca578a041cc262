"""Glance v2: images, their data, tags, members and schemas, served per region."""
