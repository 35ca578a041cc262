"""Images as AMIs. Uploading image data is not possible here: EC2 builds AMIs from snapshots or
imports disk images from S3 (``import_image``), which interstack does not drive yet. An upload
is answered with ``NotSupported`` (Glance's 501) instead of pretending."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from botocore.exceptions import ClientError

from interstack.backends.aws.client import TAG_REGION, is_not_found, tag_value, translate
from interstack.backends.contract import ImageDriver, NativeRef
from interstack.errors import NotSupported


class AwsImages(ImageDriver):
    def __init__(self, ec2: Any, region: str) -> None:
        self.ec2 = ec2
        self.region = region

    def store_image(self, gateway_id: str, data: Iterable[bytes]) -> NoReturn:
        raise NotSupported(
            f"region {self.region}: image upload is not supported on AWS by interstack yet "
            "(EC2 imports disk images only through S3 and VM Import); use an AMI"
        )

    def open_image(self, ref: NativeRef) -> NoReturn:
        raise NotSupported(
            f"region {self.region}: the data of AMI {ref} cannot be downloaded from AWS"
        )

    def delete_image(self, ref: NativeRef) -> None:
        """Deregister the AMI only if interstack created it; others are never touched."""
        try:
            images = self.ec2.describe_images(ImageIds=[ref]).get("Images", [])
        except ClientError as exc:
            if is_not_found(exc):
                return
            raise translate(exc, f"describe_images {ref}") from exc
        if not images or tag_value(images[0], TAG_REGION) != self.region:
            return
        try:
            self.ec2.deregister_image(ImageId=ref)
        except ClientError as exc:
            if not is_not_found(exc):
                raise translate(exc, f"deregister_image {ref}") from exc
