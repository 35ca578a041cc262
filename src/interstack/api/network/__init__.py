"""Neutron v2.0: networking API served per region."""
