"""Swift's object bytes in S3: one bucket per region, a key per stored object.

The gateway keeps Swift's model itself (accounts, containers and their metadata, object
metadata, listings with prefix/delimiter/marker, large-object manifests, versions): the driver
only stores the bytes each object version has, under the name the gateway gives it. So:

- the region's bucket is ``object_bucket`` (created on first use, tagged with the region, when
  it does not exist);
- a container is the key prefix ``<account>/<container name>/`` (percent-encoded where S3 would
  need it): nothing exists in S3 for an empty container;
- an object is the key ``<account>/<container name>/<name>``, its ``Content-Type`` S3's;
- content is streamed in both directions: a put sends at most one part (``PART_SIZE``) at a
  time, as a multipart upload once the data is larger than a part (aborted if reading the data
  fails, so nothing partial remains and the object it replaces is untouched); a get streams the
  response body in chunks, from a ranged request for an offset;
- the MD5 Swift shows as ETag is S3's ETag for a one-part object; a multipart object's ETag is
  not an MD5, so the MD5 computed while streaming is kept in the object's tag ``md5``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import threading
from collections.abc import Generator, Iterable, Iterator
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from interstack.backends.aws.client import TAG_REGION, aws_call, error_code, translate
from interstack.backends.aws.upload_data import regrouped
from interstack.backends.contract import ByteStream, NativeRef, ObjectInfo, ObjectStoreDriver
from interstack.errors import Conflict, NotFound

#: the most of an object the driver holds in memory (S3's parts are 5 MiB at least) unless its
#: length asks for larger parts
PART_SIZE = 8 * 2**20
#: the parts an S3 multipart upload may have
MAX_PARTS = 10_000
#: how much of a download is handed on at a time
CHUNK_SIZE = 64 * 2**10
#: what a container name keeps as it is in a key (the rest is percent-encoded)
_KEEP = " !$&'()*+,;=:@-._~"
_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}
MD5_TAG = "md5"


def part_size(length: int | None) -> int:
    """The part size an object of ``length`` bytes is uploaded in: ``PART_SIZE``, or the
    whole MiBs that fit it into ``MAX_PARTS`` parts (above 78 GiB); unknown: ``PART_SIZE``."""
    if length is None:
        return PART_SIZE
    mib = 2**20
    return max(PART_SIZE, -(-length // MAX_PARTS // mib) * mib)


def _etag(value: Any) -> str:
    return str(value or "").strip('"')


def _missing(exc: ClientError) -> bool:
    return error_code(exc) in _MISSING


class S3Objects(ObjectStoreDriver):
    def __init__(self, s3: Any, region: str, bucket: str, aws_region: str) -> None:
        self.s3 = s3
        self.region = region
        self.bucket = bucket
        self.aws_region = aws_region
        self._bucket_ready = False
        self._lock = threading.Lock()

    # -- the bucket and containers ------------------------------------------------------------

    def _ensure_bucket(self) -> None:
        """The region's bucket, created (and tagged) if it does not exist yet."""
        if self._bucket_ready:
            return
        with self._lock:
            if self._bucket_ready:
                return
            try:
                self.s3.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if not _missing(exc):
                    raise translate(exc, f"head_bucket {self.bucket}") from exc
                self._create_bucket()
            self._bucket_ready = True

    def _create_bucket(self) -> None:
        request: dict[str, Any] = {"Bucket": self.bucket}
        if self.aws_region != "us-east-1":  # S3's one region without a location constraint
            request["CreateBucketConfiguration"] = {"LocationConstraint": self.aws_region}
        with aws_call(f"create_bucket {self.bucket}"):
            self.s3.create_bucket(**request)
            self.s3.put_bucket_tagging(
                Bucket=self.bucket,
                Tagging={"TagSet": [{"Key": TAG_REGION, "Value": self.region}]},
            )

    def create_container(self, account: str, name: str) -> NativeRef:
        self._ensure_bucket()
        return NativeRef(f"{quote(account, safe='')}/{quote(name, safe=_KEEP)}")

    def delete_container(self, ref: NativeRef) -> None:
        with aws_call(f"listing container {ref}"):
            found = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{ref}/", MaxKeys=1)
        if found.get("KeyCount", 0):
            raise Conflict(f"container {ref} still holds objects in S3")

    # -- objects ------------------------------------------------------------------------------

    def put_object(
        self,
        container: NativeRef,
        name: str,
        data: Iterable[bytes],
        content_type: str,
        *,
        length: int | None = None,
    ) -> ObjectInfo:
        """The object from ``data``, sent a part at a time (one put below a part's size);
        ``length``: how long ``data`` says it is, where it does (its parts fit S3's limit)."""
        key = f"{container}/{name}"
        piece = part_size(length)
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0

        def counted(parts: Iterator[bytes]) -> Iterator[bytes]:
            nonlocal size
            for part in parts:
                md5.update(part)
                size += len(part)
                yield part

        parts = counted(regrouped(data, piece))
        first = next(parts, b"")
        if len(first) < piece:  # all of it
            with aws_call(f"put_object {key}"):
                self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=first, ContentType=content_type
                )
        else:
            whole = itertools.chain([first], parts)
            del first  # held by ``whole`` only until it is sent
            self._multipart(key, content_type, whole, md5)
        return ObjectInfo(name=name, size=size, md5=md5.hexdigest(), content_type=content_type)

    def _multipart(
        self,
        key: str,
        content_type: str,
        parts: Iterator[bytes],
        md5: Any,
    ) -> None:
        """Upload ``parts`` as one object, a part in memory at a time; abort the upload if
        anything fails (no partial object is ever visible)."""
        with aws_call(f"create_multipart_upload {key}"):
            upload = self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type
            )["UploadId"]
        done: list[dict[str, Any]] = []

        def send(part: bytes) -> None:
            number = len(done) + 1
            with aws_call(f"upload_part {number} of {key}"):
                reply = self.s3.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number, Body=part
                )
            done.append({"PartNumber": number, "ETag": reply["ETag"]})

        try:
            for part in parts:
                send(part)
            with aws_call(f"complete_multipart_upload {key}"):
                self.s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload,
                    MultipartUpload={"Parts": done},
                )
        except BaseException:
            with contextlib.suppress(ClientError):  # else a bucket lifecycle rule expires it
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            raise
        with aws_call(f"tagging {key} with its MD5"):
            self.s3.put_object_tagging(
                Bucket=self.bucket,
                Key=key,
                Tagging={"TagSet": [{"Key": MD5_TAG, "Value": md5.hexdigest()}]},
            )

    def _md5(self, key: str, etag: str) -> str:
        if "-" not in etag:
            return etag
        with aws_call(f"get_object_tagging {key}"):
            tag_set = self.s3.get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"]
        return next((str(t["Value"]) for t in tag_set if t["Key"] == MD5_TAG), etag)

    def _info(self, name: str, key: str, reply: dict[str, Any], size: int) -> ObjectInfo:
        return ObjectInfo(
            name=name,
            size=size,
            md5=self._md5(key, _etag(reply.get("ETag"))),
            content_type=str(reply.get("ContentType") or "application/octet-stream"),
        )

    def head_object(self, container: NativeRef, name: str) -> ObjectInfo:
        key = f"{container}/{name}"
        try:
            reply = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                raise NotFound(f"object {name} not found") from exc
            raise translate(exc, f"head_object {key}") from exc
        return self._info(name, key, reply, int(reply["ContentLength"]))

    def get_object(
        self, container: NativeRef, name: str, offset: int = 0, length: int | None = None
    ) -> tuple[ObjectInfo, ByteStream]:
        key = f"{container}/{name}"
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if length == 0:
            return self.head_object(container, name), _empty()
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            request["Range"] = f"bytes={offset}-{end}"
        try:
            reply = self.s3.get_object(**request)
        except ClientError as exc:
            if _missing(exc):
                raise NotFound(f"object {name} not found") from exc
            if error_code(exc) == "InvalidRange":  # from at or past the end: nothing
                return self.head_object(container, name), _empty()
            raise translate(exc, f"get_object {key}") from exc
        whole = str(reply.get("ContentRange") or "").rpartition("/")[2]
        size = int(whole) if whole.isdigit() else int(reply["ContentLength"])
        body = reply["Body"]
        try:
            info = self._info(name, key, reply, size)
        except BaseException:
            body.close()
            raise
        return info, _stream(body)

    def delete_object(self, container: NativeRef, name: str) -> None:
        key = f"{container}/{name}"
        with aws_call(f"delete_object {key}"):
            self.s3.delete_object(Bucket=self.bucket, Key=key)

    def list_objects(
        self, container: NativeRef, prefix: str = "", marker: str = "", limit: int = 10_000
    ) -> list[ObjectInfo]:
        """One ``list_objects_v2`` page per 1,000 names, then a HEAD per object for its
        content type (S3 lists none). The gateway lists from its own records; this is for
        tools and tests."""
        base = f"{container}/"
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": base + prefix}
        if marker:
            request["StartAfter"] = base + marker
        names: list[str] = []
        with aws_call(f"listing container {container}"):
            for page in self.s3.get_paginator("list_objects_v2").paginate(**request):
                names += [str(o["Key"])[len(base) :] for o in page.get("Contents", [])]
                if len(names) >= limit:
                    break
        return [self.head_object(container, name) for name in names[:limit]]

    # -- cleanup ------------------------------------------------------------------------------

    def clean_up(self, *, dry_run: bool = False) -> list[str]:
        """The bucket, if the backend created it for this region (its tag says so): emptied
        (objects, unfinished uploads) and deleted unless ``dry_run``. A bucket the operator
        made is never touched."""
        try:
            tag_set = self.s3.get_bucket_tagging(Bucket=self.bucket).get("TagSet", [])
        except ClientError as exc:
            if _missing(exc) or error_code(exc) == "NoSuchTagSet":
                return []
            raise translate(exc, f"get_bucket_tagging {self.bucket}") from exc
        if {"Key": TAG_REGION, "Value": self.region} not in tag_set:
            return []
        with aws_call(f"emptying bucket {self.bucket}"):
            keys = [
                str(o["Key"])
                for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
                for o in page.get("Contents", [])
            ]
            if not dry_run:
                uploads = self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
                for upload in uploads:
                    self.s3.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                for start in range(0, len(keys), 1000):  # S3 deletes 1,000 keys per call
                    batch = [{"Key": key} for key in keys[start : start + 1000]]
                    self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
                self.s3.delete_bucket(Bucket=self.bucket)
                self._bucket_ready = False
        return [f"S3 bucket {self.bucket} ({len(keys)} objects)"]


def _empty() -> Generator[bytes, None, None]:
    yield from ()


def _stream(body: Any) -> Generator[bytes, None, None]:
    """The response body in chunks; the connection is released however the reader stops."""
    try:
        yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()
