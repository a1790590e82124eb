"""S3 bucket resource types and the separate resources that configure a bucket, for the S3 stack policies."""
from __future__ import annotations

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
# A configuration resource names its bucket in `bucket`: the bucket's id, which is its name.
BUCKET_KEYS = ("id", "bucket")
