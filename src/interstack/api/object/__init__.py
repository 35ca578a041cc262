"""Swift v1: object storage per region at ``/<region>/object/v1/AUTH_<project_id>``."""
