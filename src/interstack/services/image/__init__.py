"""Glance v2: images, their data in each region's backend, tags and members."""
