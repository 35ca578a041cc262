"""The instance metadata service: what a guest reads at http://169.254.169.254.

Two formats, as Nova serves them: OpenStack (``/openstack/<version>/meta_data.json``,
``user_data``, ``network_data.json``, ``vendor_data*.json``, ``password``) and EC2
(``/<version>/meta-data/…``, ``/<version>/user-data``). The gateway serves it on a unix socket
per region whose backend asks for it; the backend's proxy on each instance network forwards
guests' requests there and says which network and source address each came from, which is all
the service uses to decide whose data to answer (:mod:`interstack.metadata.requester`).
"""
