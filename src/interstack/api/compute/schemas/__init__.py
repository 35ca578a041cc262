"""Nova request bodies, one module per resource; a schema per microversion range. The field
types several resources share are in ``parameter_types`` (as Nova keeps them)."""
