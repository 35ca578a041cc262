"""Domain logic: identity, catalog, tasks and (later) compute, network, image, volume, object."""
