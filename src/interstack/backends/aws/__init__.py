"""``aws``: a region served by EC2 and VPC through boto3 (docs/aws-backend.md has the mapping).

A region uses it with::

    regions:
      - name: aws-us-east-1
        backend: aws
        settings:
          aws_region: us-east-1
          credentials: env              # or {profile: NAME} or {access_key_id, secret_access_key}
          instance_types: [t3.micro, t3.small, t3.medium]
          default_image: ami-0123456789abcdef0

Everything it creates carries the tag ``interstack:region`` (the gateway region's name) and,
per resource, ``interstack:gateway-id``; ``interstack cleanup --region`` finds them by those.
"""

from interstack.backends.aws.backend import AwsBackend
from interstack.backends.aws.settings import AwsSettings

__all__ = ["AwsBackend", "AwsSettings"]
