"""Nova's wire JSON, one module per resource; domain records go in, dicts come out."""
