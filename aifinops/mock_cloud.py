"""Answers resource registrations and invokes the way AWS would, well enough for real program code.

Ids and ARNs are shaped like the real ones for each service, in the stack's region and a fixed
account, and derived from the URN so that previews are reproducible. Invokes the components need get
plausible answers; any other invoke is an error that names its token.
"""
from __future__ import annotations

import collections.abc
import hashlib
import importlib
import inspect
import json
import re
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional

import pulumi

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

# EC2-style ids: <prefix>-<17 hex>.
_EC2_ID_PREFIX = {
    "instance": "i", "vpc": "vpc", "subnet": "subnet", "securityGroup": "sg", "launchTemplate": "lt",
    "volume": "vol", "eip": "eipalloc", "internetGateway": "igw", "natGateway": "nat", "routeTable": "rtb",
    "capacityReservation": "cr", "spotFleetRequest": "sfr", "fleet": "fleet", "spotInstanceRequest": "sir",
    "keyPair": "key", "networkInterface": "eni", "placementGroup": "pg", "vpcEndpoint": "vpce",
    "networkAcl": "acl", "flowLog": "fl", "ami": "ami", "snapshot": "snap",
}
_ARN_RESOURCE = {
    # type token suffix -> (service, arn resource template); {n} physical name, {i} id
    "s3/bucket:Bucket": ("s3", "{n}"),
    "iam/role:Role": ("iam", "role/{n}"),
    "iam/policy:Policy": ("iam", "policy/{n}"),
    "iam/instanceProfile:InstanceProfile": ("iam", "instance-profile/{n}"),
    "iam/user:User": ("iam", "user/{n}"),
    "sns/topic:Topic": ("sns", "{n}"),
    "sqs/queue:Queue": ("sqs", "{n}"),
    "lambda/function:Function": ("lambda", "function:{n}"),
    "kms/key:Key": ("kms", "key/{u}"),
    "kms/alias:Alias": ("kms", "{n}"),
    "cloudwatch/logGroup:LogGroup": ("logs", "log-group:{n}"),
    "cloudwatch/eventRule:EventRule": ("events", "rule/{n}"),
    "cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", "alarm:{n}"),
    "lb/loadBalancer:LoadBalancer": ("elasticloadbalancing", "loadbalancer/app/{n}/{h}"),
    "lb/targetGroup:TargetGroup": ("elasticloadbalancing", "targetgroup/{n}/{h}"),
    "lb/listener:Listener": ("elasticloadbalancing", "listener/app/{n}/{h}"),
    "backup/vault:Vault": ("backup", "backup-vault:{n}"),
    "backup/plan:Plan": ("backup", "backup-plan:{u}"),
    "wafv2/webAcl:WebAcl": ("wafv2", "regional/webacl/{n}/{u}"),
    "budgets/budget:Budget": ("budgets", "budget/{n}"),
    "shield/protection:Protection": ("shield", "protection/{u}"),
    "shield/protectionGroup:ProtectionGroup": ("shield", "protection-group/{n}"),
    "autoscaling/group:Group": ("autoscaling", "autoScalingGroup:{u}:autoScalingGroupName/{n}"),
    "ecr/repository:Repository": ("ecr", "repository/{n}"),
    "eks/cluster:Cluster": ("eks", "cluster/{n}"),
    "eks/nodeGroup:NodeGroup": ("eks", "nodegroup/{n}/{u}"),
    "efs/fileSystem:FileSystem": ("elasticfilesystem", "file-system/fs-{h}"),
    "ebs/volume:Volume": ("ec2", "volume/{i}"),
    "ebs/snapshot:Snapshot": ("ec2", "snapshot/{i}"),
    "costexplorer/anomalyMonitor:AnomalyMonitor": ("ce", "anomalymonitor/{u}"),
    "costexplorer/anomalySubscription:AnomalySubscription": ("ce", "anomalysubscription/{u}"),
    "apigateway/stage:Stage": ("apigateway", "/restapis/{h}/stages/{n}"),
    "sagemaker/endpointConfiguration:EndpointConfiguration": ("sagemaker", "endpoint-config/{n}"),
    "sagemaker/endpoint:Endpoint": ("sagemaker", "endpoint/{n}"),
    "sagemaker/notebookInstance:NotebookInstance": ("sagemaker", "notebook-instance/{n}"),
    "sagemaker/model:Model": ("sagemaker", "model/{n}"),
    "sagemaker/modelPackageGroup:ModelPackageGroup": ("sagemaker", "model-package-group/{n}"),
    "appautoscaling/policy:Policy": ("autoscaling", "scalingPolicy:{u}:resource/sagemaker/policyName/{n}"),
}
_GLOBAL_SERVICES = {"iam", "s3", "budgets", "shield", "ce", "cloudfront", "route53"}
# Input property that holds the physical name, for resources the provider would auto-name.
_NAME_PROPERTY = {"s3/bucket:Bucket": "bucket", "sqs/queue:Queue": "name",
                  "sagemaker/modelPackageGroup:ModelPackageGroup": "modelPackageGroupName"}


# Outputs a provider works out from the inputs during preview (tags_all merges tags with defaultTags).
_KNOWN_IN_PREVIEW = frozenset({"tagsAll"})
# String-typed IAM policy properties, which programs may pass as objects (see new_resource).
_POLICY_DOCUMENT_PROPERTIES = {"policy", "assumeRolePolicy", "policyDocument", "accessPolicies",
                               "resourcePolicy", "inlinePolicy"}


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def _uuid(text: str) -> str:
    h = _digest(text, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


class UnansweredInvoke(Exception):
    """Raised into the program when it calls an invoke the preview has no answer for."""


class CloudMocks(pulumi.runtime.Mocks):
    """AWS- and Kubernetes-shaped answers for the SDK's mock runtime."""

    def __init__(self, region_for: Callable[[Optional[str]], str]) -> None:
        self._region_for = region_for  # provider reference -> region
        self.unanswered_invokes: list[str] = []

    # -- resources ------------------------------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[Optional[str], dict]:
        outputs = dict(args.inputs)
        if not args.custom:
            return "", outputs
        key = f"{args.typ}::{args.name}"
        package, _, rest = args.typ.partition(":")
        if package == "pulumi":  # provider resources
            return _uuid(key), outputs
        if package == "kubernetes":
            return self._kubernetes(args, outputs), outputs
        if package != "aws":
            return f"{args.name}-{_digest(key, 7)}", outputs
        # pulumi-aws v7 resources may name their own region; else the provider's.
        region = outputs.get("region") if isinstance(outputs.get("region"), str) else \
            self._region_for(args.provider or None)
        module_type = rest
        kind = module_type.split("/")[-1].split(":")[0]
        name_property = _NAME_PROPERTY.get(module_type, "name")
        physical = outputs.get(name_property)
        if not isinstance(physical, str) or not physical:
            prefix = outputs.get(f"{name_property}Prefix")
            physical = f"{prefix if isinstance(prefix, str) else args.name + '-'}{_digest(key, 7)}"
            outputs[name_property] = physical  # the provider's auto-name
        module = module_type.split("/")[0]
        if module in ("ec2", "ebs") and kind in _EC2_ID_PREFIX:  # EBS ids are EC2 ids (vol-, snap-)
            resource_id = f"{_EC2_ID_PREFIX[kind]}-{_digest(key, 17)}"
        elif module_type == "backup/plan:Plan" or module_type.startswith("costexplorer/"):
            resource_id = _uuid(key)
        else:
            resource_id = physical
        outputs["id"] = resource_id
        for name in _POLICY_DOCUMENT_PROPERTIES & outputs.keys():
            # Policy documents may be given as objects; the provider stores and returns JSON strings
            # (unknown until apply when a part of the document is).
            if isinstance(outputs[name], (dict, list)):
                try:
                    outputs[name] = json.dumps(outputs[name])
                except TypeError:
                    outputs[name] = pulumi.runtime.rpc.UNKNOWN
        outputs.setdefault("arn", self._arn(module_type, module, kind, physical, resource_id, key, region))
        if "tags" in outputs and isinstance(outputs["tags"], dict):
            outputs.setdefault("tagsAll", dict(outputs["tags"]))
        if module_type == "s3/bucket:Bucket":
            outputs.setdefault("bucketDomainName", f"{physical}.s3.amazonaws.com")
            outputs.setdefault("bucketRegionalDomainName", f"{physical}.s3.{region}.amazonaws.com")
            outputs.setdefault("region", region)
        if module_type == "ec2/instance:Instance":
            outputs.setdefault("privateIp", f"10.0.{int(_digest(key, 2), 16) % 256}.{int(_digest(key + 'b', 2), 16) % 256}")
            outputs.setdefault("instanceState", "running")
        if module_type == "sns/topic:Topic":
            outputs.setdefault("name", physical)
        return resource_id, outputs

    def _arn(self, module_type: str, module: str, kind: str, physical: str, resource_id: str, key: str,
             region: str) -> str:
        service, template = _ARN_RESOURCE.get(module_type, (module, f"{_kebab(kind)}/{{i}}"))
        if module == "ec2" and module_type not in _ARN_RESOURCE:
            template = f"{_kebab(kind)}/{{i}}"
        resource = template.format(n=physical, i=resource_id, u=_uuid(key), h=_digest(key, 16))
        if service == "s3":
            return f"arn:aws:s3:::{resource}"
        arn_region = "" if service in _GLOBAL_SERVICES else region
        return f"arn:aws:{service}:{arn_region}:{ACCOUNT_ID}:{resource}"

    def _kubernetes(self, args: pulumi.runtime.MockResourceArgs, outputs: dict) -> str:
        metadata = dict(outputs.get("metadata") or {})
        if not metadata.get("name"):
            metadata["name"] = f"{args.name}-{_digest(args.typ + args.name, 8)}"
        outputs["metadata"] = metadata
        namespace = metadata.get("namespace")
        return f"{namespace}/{metadata['name']}" if namespace else metadata["name"]

    def preview_of_create(self, type_token: str, inputs: dict, state: dict) -> tuple[str, dict]:
        """What a preview of a create knows: no id, the inputs (as the provider normalises them, with the
        auto-name it assigns during Check), tags_all, and every other output unknown."""
        name_property = _NAME_PROPERTY.get(type_token.partition(":")[2], "name")
        known = set(inputs) | _KNOWN_IN_PREVIEW | {name_property}
        if type_token.startswith("kubernetes:"):
            known.add("metadata")
        return "", {key: value if key in known else pulumi.runtime.rpc.UNKNOWN for key, value in state.items()}

    # -- invokes --------------------------------------------------------------------------------
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        region = self._region_for(args.provider or None)
        handler = _INVOKES.get(args.token)
        if handler is not None:
            return handler(args.args, region)
        result_class = sdk_result_class(args.token)
        if result_class is None:
            self.unanswered_invokes.append(args.token)
            raise UnansweredInvoke(
                f"the offline preview has no answer for invoke '{args.token}': it is not a pulumi-aws function "
                f"with a result type, nor one of {', '.join(sorted(_INVOKES))}")
        return _sdk_shaped_result(args.token, result_class, dict(args.args), region)


def _caller_identity(_: dict, __: str) -> dict:
    return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/aifinops-preview",
            "userId": "AIDAAIFINOPSPREVIEW", "id": ACCOUNT_ID}


def _region(args: dict, region: str) -> dict:
    name = args.get("region") or args.get("name") or region
    return {"id": name, "name": name, "region": name, "description": name,
            "endpoint": f"ec2.{name}.amazonaws.com"}


def _partition(_: dict, __: str) -> dict:
    return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}


def _availability_zones(_: dict, region: str) -> dict:
    names = [f"{region}{suffix}" for suffix in "abc"]
    return {"id": region, "names": names, "zoneIds": [f"use1-az{i}" for i in (1, 2, 4)], "groupNames": [region]}


def _ami(args: dict, region: str) -> dict:
    name_filter = next((f.get("values", [""])[0] for f in args.get("filters") or [] if f.get("name") == "name"), "")
    name = name_filter.replace("*", "20261115") or "amazon-linux-2023-ami"
    image_id = f"ami-{_digest(region + name, 17)}"
    return {"id": image_id, "imageId": image_id, "name": name, "architecture": "x86_64",
            "ownerId": "898082745236", "owners": args.get("owners") or [], "rootDeviceName": "/dev/sda1",
            "virtualizationType": "hvm", "state": "available", "creationDate": "2026-11-15T00:00:00.000Z",
            "arn": f"arn:aws:ec2:{region}::image/{image_id}"}


def _vpc(args: dict, region: str) -> dict:
    vpc_id = args.get("id") or f"vpc-{_digest(region + 'default', 17)}"
    return {"id": vpc_id, "cidrBlock": "172.31.0.0/16", "default": True,
            "arn": f"arn:aws:ec2:{region}:{ACCOUNT_ID}:vpc/{vpc_id}"}


def _subnets(_: dict, region: str) -> dict:
    return {"id": region, "ids": [f"subnet-{_digest(region + z, 17)}" for z in "abc"]}


def _policy_document(args: dict, _: str) -> dict:
    """Render aws.iam.get_policy_document statements into IAM policy JSON, as the provider does."""
    statements = []
    for raw in args.get("statements") or []:
        statement: dict[str, Any] = {}
        if raw.get("sid"):
            statement["Sid"] = raw["sid"]
        statement["Effect"] = raw.get("effect") or "Allow"
        for wire, iam in (("actions", "Action"), ("notActions", "NotAction"),
                          ("resources", "Resource"), ("notResources", "NotResource")):
            values = raw.get(wire)
            if values:
                statement[iam] = values[0] if len(values) == 1 else list(values)
        for wire, iam in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
            if raw.get(wire):
                principal: dict[str, Any] = {}
                for entry in raw[wire]:
                    ids = entry.get("identifiers") or []
                    principal[entry["type"]] = ids[0] if len(ids) == 1 else ids
                statement[iam] = principal
        if raw.get("conditions"):
            condition: dict[str, dict[str, Any]] = {}
            for entry in raw["conditions"]:
                values = entry.get("values") or []
                condition.setdefault(entry["test"], {})[entry["variable"]] = values[0] if len(values) == 1 else values
            statement["Condition"] = condition
        statements.append(statement)
    document = json.dumps({"Version": args.get("version") or "2012-10-17", "Statement": statements})
    return {"id": _digest(document, 10), "json": document, "minifiedJson": document}


_INVOKES: dict[str, Callable[[dict, str], dict]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:index/getRegion:getRegion": _region,
    "aws:index/getPartition:getPartition": _partition,
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:ec2/getAmi:getAmi": _ami,
    "aws:ec2/getVpc:getVpc": _vpc,
    "aws:ec2/getSubnets:getSubnets": _subnets,
    "aws:iam/getPolicyDocument:getPolicyDocument": _policy_document,
}



# -- any other pulumi-aws invoke: answered from the SDK's own result type ---------------------------------
@lru_cache(maxsize=1)
def _invoke_modules() -> dict[str, str]:
    """invoke token -> the pulumi_aws module that calls it, read from the SDK's source once."""
    import pulumi_aws

    root = Path(pulumi_aws.__file__).parent
    modules = {}
    for path in [*root.glob("get_*.py"), *root.glob("*/get_*.py")]:
        for token in re.findall(r"invoke\('(aws:[^']+)'", path.read_text()):
            relative = path.relative_to(root).with_suffix("")
            modules[token] = "pulumi_aws." + ".".join(relative.parts)
    return modules


@lru_cache(maxsize=None)
def sdk_result_class(token: str) -> Optional[type]:
    """The `Get...Result` output type of a pulumi-aws invoke, or None when the token is not one."""
    module_name = _invoke_modules().get(token)
    if module_name is None:
        return None
    module = importlib.import_module(module_name)
    function = token.rsplit(":", 1)[-1]
    return getattr(module, function[0].upper() + function[1:] + "Result", None)


def sdk_invoke_count() -> tuple[int, int]:
    """(pulumi-aws invoke functions, how many of them have a result type the preview answers from)."""
    tokens = _invoke_modules()
    return len(tokens), sum(1 for token in tokens if sdk_result_class(token) is not None)


def _sdk_shaped_result(token: str, result_class: type, args: dict, region: str) -> dict:
    """Every field of the result type: the arguments echoed, an id and an ARN shaped for the service, and
    for the rest a value of the declared type (an empty list or map, zero, false; None where optional)."""
    module = token.split(":")[1].split("/")[0]
    name = next((args[k] for k in ("name", "bucket", "functionName", "clusterName") if isinstance(args.get(k), str)),
                None) or f"{module}-{_digest(token + json.dumps(args, sort_keys=True, default=str), 8)}"
    result: dict[str, Any] = {}
    for prop in vars(result_class).values():
        if not isinstance(prop, property):
            continue
        wire = getattr(prop.fget, "_pulumi_name", None)
        if not wire:
            continue
        if wire in args:
            result[wire] = args[wire]
        elif wire == "id":
            result[wire] = name
        elif wire == "arn":
            service = "elasticfilesystem" if module == "efs" else module
            result[wire] = f"arn:aws:{service}:{'' if service in _GLOBAL_SERVICES else region}:{ACCOUNT_ID}:{name}"
        else:
            result[wire] = _empty_of(inspect.signature(prop.fget).return_annotation, wire, name)
    return result


def _empty_of(annotation: Any, wire: str, name: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        return None  # Optional[...]: not set
    if annotation is str:
        return f"{name}-{_kebab(wire)}"
    if annotation is bool:
        return False
    if annotation in (int, float):
        return annotation(0)
    if origin in (list, collections.abc.Sequence) or annotation in (list,):
        return []
    if origin in (dict, collections.abc.Mapping):
        return {}
    return {}  # a nested output type
