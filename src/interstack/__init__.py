"""interstack: the OpenStack API as one standard API in front of every cloud."""

__version__ = "0.1.0"
