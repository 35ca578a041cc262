"""Nova request bodies, one module per resource; a schema per microversion range."""
