"""The aifinops-security pack: the security baseline. Add a policy: one module, one line below."""
from . import (
               backup_coverage,
               ebs_encryption,
               gpu_instance_no_public_ip,
               gpu_pods_have_limits,
               imdsv2_required,
               public_endpoints_rate_limited,
               s3_bucket_encryption,
               s3_bucket_public_access_block,
               s3_versioning_with_noncurrent_expiry,
)

PACK_NAME = "aifinops-security"
POLICIES = [
    s3_bucket_encryption.POLICY,
    s3_bucket_public_access_block.POLICY,
    ebs_encryption.POLICY,
    imdsv2_required.POLICY,
    gpu_instance_no_public_ip.POLICY,
    s3_versioning_with_noncurrent_expiry.POLICY,
    backup_coverage.POLICY,
    public_endpoints_rate_limited.POLICY,
    gpu_pods_have_limits.POLICY,
]
