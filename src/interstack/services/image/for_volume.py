"""What block storage needs of images: the image a volume is filled from (as compute boots from
one), and the image a volume is uploaded to (``os-volume_upload_image``).

An upload registers its image as Cinder does with Glance: a ``saving`` record at once (its id
answers the call), then the data once the backend copied the volume, or the record is dropped
if the copy failed.
"""

from __future__ import annotations

from interstack.services.context import RequestContext
from interstack.services.image.for_compute import ComputeImages
from interstack.services.image.model import ImageInfo, ImageStatus, NewImage, Visibility
from interstack.services.interfaces import VolumeUpload


class VolumeImages(ComputeImages):
    """``image_for_boot``, ``finish_snapshot`` and ``abandon_snapshot`` as for servers."""

    def begin_upload(self, ctx: RequestContext, region: str, upload: VolumeUpload) -> ImageInfo:
        """A ``saving`` image of the caller's project for the volume's data."""
        return self.images.create(
            ctx,
            region,
            NewImage(
                name=upload.name,
                visibility=Visibility(upload.visibility),
                protected=upload.protected,
                container_format=upload.container_format,
                disk_format=upload.disk_format,
                min_disk=upload.min_disk,
            ),
            status=ImageStatus.SAVING,
        )
