"""``/info``: exactly the features and limits this gateway's Swift serves."""

from __future__ import annotations

from typing import Any

from interstack.api.deps import ServicesDep
from interstack.api.responses import OrjsonResponse, json_response
from interstack.services.object.model import Limits
from interstack.services.object.tempurl import DIGESTS, METHODS

SWIFT_VERSION = "2.34.0"


def capabilities(limits: Limits) -> dict[str, Any]:
    return {
        "swift": {
            "version": SWIFT_VERSION,
            "max_file_size": limits.max_file_size,
            "max_meta_name_length": limits.max_meta_name_length,
            "max_meta_value_length": limits.max_meta_value_length,
            "max_meta_count": limits.max_meta_count,
            "max_meta_overall_size": limits.max_meta_overall_size,
            "max_header_size": limits.max_header_size,
            "max_object_name_length": limits.max_object_name_length,
            "max_container_name_length": limits.max_container_name_length,
            "container_listing_limit": limits.container_listing_limit,
            "account_listing_limit": limits.account_listing_limit,
            "extra_header_count": 0,
            "account_autocreate": True,
            "allow_account_management": False,
            "strict_cors_mode": True,
            "policies": [{"name": "Policy-0", "default": True}],
        },
        "slo": {
            "max_manifest_segments": limits.max_manifest_segments,
            "max_manifest_size": limits.max_manifest_size,
            "min_segment_size": limits.min_segment_size,
        },
        "dlo": {"max_segments": limits.max_dlo_segments},
        "tempurl": {
            "methods": sorted(METHODS),
            "allowed_digests": sorted(DIGESTS),
            "incoming_remove_headers": ["x-timestamp"],
            "incoming_allow_headers": [],
            "outgoing_remove_headers": ["x-object-meta-*"],
            "outgoing_allow_headers": ["x-object-meta-public-*"],
        },
        "bulk_delete": {
            "max_deletes_per_request": limits.max_deletes_per_request,
            "max_failed_deletes": limits.max_failed_deletes,
        },
        "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
        "account_quotas": {},
        "container_quotas": {},
        "keystoneauth": {},
    }


def show_info(services: ServicesDep) -> OrjsonResponse:
    """GET /info — the capabilities document clients read before using a feature."""
    return json_response(capabilities(services.object_storage.limits))
