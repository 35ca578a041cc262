"""Neutron v2.0: the network model the gateway owns, realized by each region's backend."""
