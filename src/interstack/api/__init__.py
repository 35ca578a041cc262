"""HTTP layer: one package per OpenStack service, plus the shared request/response machinery."""
