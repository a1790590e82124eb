"""Suppressions declared in component code: validation, and which resources they cover."""
from __future__ import annotations

import pytest

from aifinops.components import checkov_suppressions
from aifinops.components.checkov_suppressions import STACK, declared_suppressions, find_suppression, suppress_checkov

BUCKET = "aws:s3/bucket:Bucket"
IN_COMPONENT = "urn:pulumi:dev::proj::aifinops:storage:TieredBucket$aws:s3/bucket:Bucket::data"
NESTED = "urn:pulumi:dev::proj::test:index:Platform$aifinops:storage:TieredBucket$aws:s3/bucket:Bucket::data"
AT_ROOT = "urn:pulumi:dev::proj::aws:s3/bucket:Bucket::loose"
REASON = "a second copy of every dataset doubles the storage bill"


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    """Declarations here must not reach other tests' scans: the registry is process-wide."""
    monkeypatch.setattr(checkov_suppressions, "_declared", {})


def test_a_suppression_covers_its_check_on_its_resource_type_inside_its_component_only():
    suppression = suppress_checkov(component_type="aifinops:storage:TieredBucket", resource_type=BUCKET,
                                   check_id="CKV_AWS_144", reason=REASON)
    assert suppression in declared_suppressions()
    assert suppression.matches(IN_COMPONENT, "CKV_AWS_144") and suppression.matches(NESTED, "CKV_AWS_144")
    assert not suppression.matches(IN_COMPONENT, "CKV_AWS_145")  # another check
    assert not suppression.matches(AT_ROOT, "CKV_AWS_144")  # outside the component
    assert not suppression.matches(IN_COMPONENT.replace("s3/bucket:Bucket", "s3/bucketPolicy:BucketPolicy"),
                                   "CKV_AWS_144")  # another resource type in the same component
    assert find_suppression([suppression], NESTED, "CKV_AWS_144") is suppression
    assert find_suppression([suppression], AT_ROOT, "CKV_AWS_144") is None


def test_a_stack_suppression_covers_only_resources_the_program_creates_directly():
    suppression = suppress_checkov(component_type=STACK, resource_type=BUCKET, check_id="CKV_AWS_18",
                                   reason="this bucket holds the access logs of the others")
    assert suppression.matches(AT_ROOT, "CKV_AWS_18")
    assert not suppression.matches(IN_COMPONENT, "CKV_AWS_18")


@pytest.mark.parametrize("field, value, expected", [
    ("component_type", "TieredBucket", "component_type: expected a Pulumi type token"),
    ("resource_type", "aws_s3_bucket", "resource_type: expected a Pulumi type token"),
    ("check_id", "144", "check_id: expected a checkov check id"),
    ("reason", "cost", "reason: expected a sentence saying why CKV_AWS_144 does not apply"),
    ("reason", None, "reason: expected a sentence"),
])
def test_a_declaration_without_a_real_reason_or_with_bad_names_is_refused(field, value, expected):
    arguments = dict(component_type="aifinops:storage:TieredBucket", resource_type=BUCKET, check_id="CKV_AWS_144",
                     reason=REASON)
    arguments[field] = value
    with pytest.raises(ValueError, match=expected):
        suppress_checkov(**arguments)
