"""Swift v1 object storage: accounts, containers and objects of each region.

What the gateway owns (metadata, ACLs, quotas, expiry, the name -> bytes mapping) lives in the
store; the bytes live in the region's backend (``ObjectStoreDriver``) and are always streamed.
"""
