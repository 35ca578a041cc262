"""Nova's image proxy (``/images/{id}``, up to 2.35): a server's snapshot in Nova's terms, as
Tempest's compute image tests wait for and delete it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.servers.conftest import IMAGE, boot_active, nova, wait_gone
from tests.support.gateway import ServedGateway
from tests.support.identity import Member
from tests.support.waiting import eventually


def test_a_snapshot_through_the_image_proxy(
    compute_gateway: ServedGateway, member: Member, stranger: Member, api: httpx.Client
) -> None:
    server = boot_active(api, "snapped")
    with nova(compute_gateway, member.token(compute_gateway), "2.1") as old:
        made = old.post(
            f"/servers/{server['id']}/action",
            json={"createImage": {"name": "s", "metadata": {"image_type": "test"}}},
        )
        assert made.status_code == 202, made.text
        image_id = made.headers["Location"].rsplit("/", 1)[-1]

        def shown() -> dict[str, Any]:
            response = old.get(f"/images/{image_id}")
            assert response.status_code == 200, response.text
            image: dict[str, Any] = response.json()["image"]
            return image

        image = eventually(shown, lambda i: i["status"] == "ACTIVE", "the snapshot ACTIVE")
        assert (image["name"], image["progress"], image["minRam"]) == ("s", 100, 0)
        assert image["server"]["id"] == server["id"]
        assert image["metadata"]["image_type"] == "test"  # the caller's metadata wins, as in Nova
        assert image["links"][0]["href"].endswith(f"/compute/v2.1/images/{image_id}")
        assert old.get(f"/images/{IMAGE}").json()["image"]["status"] == "ACTIVE"

        with nova(compute_gateway, stranger.token(compute_gateway), "2.1") as theirs:
            assert theirs.get(f"/images/{image_id}").status_code == 404
            assert theirs.delete(f"/images/{image_id}").status_code == 404
        with nova(compute_gateway, member.token(compute_gateway), "2.36") as later:
            gone = later.get(f"/images/{image_id}")
            assert gone.status_code == 404 and "itemNotFound" in gone.json(), gone.text

        assert old.delete(f"/images/{image_id}").status_code == 204
        missing = old.get(f"/images/{image_id}")
        assert missing.status_code == 404 and "itemNotFound" in missing.json(), missing.text
    assert api.delete(f"/servers/{server['id']}").status_code == 204
    wait_gone(api, server["id"])
