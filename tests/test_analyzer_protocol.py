"""The Analyzer protocol as the engine speaks it: Remediate before Analyze, every resource option, property
dependencies, assets, provider properties, stack tags, pack versions, initial config, URNs, config files.

Each test previews a program (or builds a graph) and runs throwaway packs as real processes over gRPC."""
import json
import textwrap
from pathlib import Path

import pytest

from aifinops.core.errors import PolicyPackError
from aifinops.core.policy_config import load_config_file, parse_config
from aifinops.graph import Resource, ResourceGraph
from aifinops.policy_check import project_description, stack_tag
from aifinops.policy_runner import PackEnvironment, PolicyPackSet
from tests.conftest import REPO_ROOT

HEADER = ("import json\nimport pulumi\nfrom pulumi_policy import (EnforcementLevel, PolicyConfigSchema, PolicyPack,\n"
          "    ResourceValidationPolicy, StackValidationPolicy)\n")


def write_pack(root: Path, source: str, version: str | None = None) -> Path:
    """A pack whose __main__.py is HEADER + `source` (which builds the PolicyPack)."""
    root.mkdir(parents=True)
    document = f"runtime:\n  name: python\n  options:\n    virtualenv: {REPO_ROOT / '.venv'}\n"
    if version is not None:
        document += f"version: {version}\n"
    (root / "PulumiPolicy.yaml").write_text(document)
    (root / "__main__.py").write_text(HEADER + textwrap.dedent(source))
    return root


def run_packs(graph: ResourceGraph, *packs: Path, configs=None, environment=None):
    with PolicyPackSet(list(packs), environment or PackEnvironment.for_graph(graph), timeout=30,
                       start_timeout=30) as pack_set:
        return pack_set.check(graph, configs)


def reported(run, policy: str) -> list:
    return [json.loads(v.detail) for v in run.violations if v.policy == policy]


BUCKET = """
import pulumi_aws as aws
aws.s3.BucketV2("data", bucket="data-bucket", tags={"Team": "ml"})
"""

TAGGER = """
def add_owner(args):
    if args.resource_type == "aws:s3/bucketV2:BucketV2":
        return {**args.props, "tags": {**(args.props.get("tags") or {}), "Owner": "platform"}}

def still_untagged(args, report_violation):
    if args.resource_type == "aws:s3/bucketV2:BucketV2" and "Owner" not in (args.props.get("tags") or {}):
        report_violation("no Owner tag")

PolicyPack("tagger", [ResourceValidationPolicy(name="add-owner", description="adds an Owner tag",
                                               validate=still_untagged, remediate=add_owner)],
           enforcement_level=EnforcementLevel.REMEDIATE)
"""

SEES = """
def sees(args, report_violation):
    if args.resource_type == "aws:s3/bucketV2:BucketV2":
        report_violation(json.dumps(dict(args.props["tags"])))

def stack_sees(args, report_violation):
    bucket = next(r for r in args.resources if r.resource_type == "aws:s3/bucketV2:BucketV2")
    report_violation(json.dumps(dict(bucket.props["tags"])))

PolicyPack("observer", [ResourceValidationPolicy(name="sees", description="sees", validate=sees),
                        StackValidationPolicy(name="stack-sees", description="stack sees", validate=stack_sees)],
           enforcement_level=EnforcementLevel.ADVISORY)
"""


def test_remediate_runs_before_analyze_and_the_remediated_inputs_are_analyzed_and_recorded(preview, tmp_path):
    graph = preview(BUCKET, {"aws:region": "us-east-1"})
    run = run_packs(graph, write_pack(tmp_path / "tagger", TAGGER), write_pack(tmp_path / "observer", SEES))
    bucket = graph.of_type("aws:s3/bucketV2:BucketV2")[0]
    (remediation,) = run.remediations
    assert (remediation.policy_pack, remediation.policy, remediation.urn) == ("tagger", "add-owner", bucket.urn)
    assert remediation.enforcement_level == "remediate"
    assert remediation.before["tags"] == {"Team": "ml"}
    assert remediation.after["tags"] == {"Team": "ml", "Owner": "platform"}
    # the graph keeps the remediated inputs (later consumers: reports, checkov, estimate) ...
    assert bucket.inputs["tags"] == {"Team": "ml", "Owner": "platform"}
    assert bucket.outputs["tags"] == {"Team": "ml", "Owner": "platform"}
    # ... and every Analyze and AnalyzeStack after the remediation saw them; the remediated policy passes
    assert reported(run, "sees") == [{"Team": "ml", "Owner": "platform"}]
    assert reported(run, "stack-sees") == [{"Team": "ml", "Owner": "platform"}]
    assert not [v for v in run.violations if v.policy == "add-owner"]


def test_a_violation_a_remediation_left_is_mandatory(preview, tmp_path):
    pack = write_pack(tmp_path / "stubborn", """
def fails(args, report_violation):
    if args.resource_type == "aws:s3/bucketV2:BucketV2":
        report_violation("still wrong")

PolicyPack("stubborn", [ResourceValidationPolicy(name="fails", description="fails", validate=fails,
                                                 remediate=lambda args: None)],
           enforcement_level=EnforcementLevel.REMEDIATE)
""")
    run = run_packs(preview(BUCKET, {"aws:region": "us-east-1"}), pack)
    (violation,) = run.violations
    assert violation.enforcement_level == "mandatory" and violation.is_mandatory
    assert run.remediations == []


OPTIONS_PROGRAM = """
import pulumi
import pulumi_aws as aws

class Box(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("test:index:Box", name, None, opts)
        aws.s3.BucketV2("inner", bucket="inner", opts=pulumi.ResourceOptions(
            parent=self, protect=True, ignore_changes=["tags"], delete_before_replace=True,
            additional_secret_outputs=["arn"], aliases=[pulumi.Alias(name="old-inner")],
            custom_timeouts=pulumi.CustomTimeouts(create="1h30m", update="90s", delete="10m")))
        self.register_outputs({})

Box("box")
aws.s3.BucketV2("plain", bucket="plain")
"""

OPTIONS_PACK = """
def opts_of(o):
    t = o.custom_timeouts
    return {"protect": o.protect, "ignoreChanges": list(o.ignore_changes),
            "deleteBeforeReplace": o.delete_before_replace, "additionalSecretOutputs": list(o.additional_secret_outputs),
            "aliases": list(o.aliases), "timeouts": [t.create_seconds, t.update_seconds, t.delete_seconds],
            "parent": o.parent}

def resource_opts(args, report_violation):
    if args.resource_type == "aws:s3/bucketV2:BucketV2":
        report_violation(json.dumps({"name": args.name, **opts_of(args.opts)}))

def stack_opts(args, report_violation):
    for r in args.resources:
        if r.resource_type == "aws:s3/bucketV2:BucketV2":
            report_violation(json.dumps({"name": r.name, **opts_of(r.opts)}), r.urn)

PolicyPack("options", [ResourceValidationPolicy(name="opts", description="opts", validate=resource_opts),
                       StackValidationPolicy(name="stack-opts", description="stack opts", validate=stack_opts)],
           enforcement_level=EnforcementLevel.ADVISORY)
"""


def test_analyze_and_analyze_stack_carry_every_resource_option_the_program_set(preview, tmp_path):
    graph = preview(OPTIONS_PROGRAM, {"aws:region": "us-east-1"})
    run = run_packs(graph, write_pack(tmp_path / "options", OPTIONS_PACK))
    box = graph.of_type("test:index:Box")[0]
    for policy in ("opts", "stack-opts"):
        seen = {entry["name"]: entry for entry in reported(run, policy)}
        inner, plain = seen["inner"], seen["plain"]
        assert inner["protect"] is True and inner["ignoreChanges"] == ["tags"]
        assert inner["deleteBeforeReplace"] is True and inner["additionalSecretOutputs"] == ["arn"]
        assert len(inner["aliases"]) == 1 and inner["aliases"][0].endswith("::old-inner")
        assert inner["timeouts"] == [5400.0, 90.0, 600.0]
        assert inner["parent"] == box.urn
        # unset options stay unset: delete_before_replace is None, not False, when the program did not say
        assert plain == {"name": "plain", "protect": False, "ignoreChanges": [], "deleteBeforeReplace": None,
                         "additionalSecretOutputs": [], "aliases": [], "timeouts": [0, 0, 0],
                         "parent": graph.root.urn}


def test_property_dependencies_without_urns_are_dropped(preview, tmp_path):
    program = """
import pulumi_aws as aws
source = aws.s3.BucketV2("source", bucket="source")
aws.s3.BucketVersioningV2("versioning", bucket=source.id,
                          versioning_configuration={"status": "Enabled"})
"""
    graph = preview(program, {"aws:region": "us-east-1"})
    versioning = graph.of_type("aws:s3/bucketVersioningV2:BucketVersioningV2")[0]
    assert versioning.property_dependencies["versioningConfiguration"] == []  # recorded, as the SDK sends it
    pack = write_pack(tmp_path / "deps", """
def deps(args, report_violation):
    for r in args.resources:
        if r.resource_type == "aws:s3/bucketVersioningV2:BucketVersioningV2":
            report_violation(json.dumps({k: [d.urn for d in v] for k, v in r.property_dependencies.items()}), r.urn)

PolicyPack("deps", [StackValidationPolicy(name="deps", description="deps", validate=deps)],
           enforcement_level=EnforcementLevel.ADVISORY)
""")
    run = run_packs(graph, pack)
    source = graph.of_type("aws:s3/bucketV2:BucketV2")[0]
    assert reported(run, "deps") == [{"bucket": [source.urn]}]


ASSET_PACK = """
def assets(args, report_violation):
    found = {}
    for key, value in args.props.items():
        if isinstance(value, pulumi.FileAsset):
            found[key] = {"kind": "FileAsset", "path": value.path, "contents": open(value.path).read()}
        elif isinstance(value, pulumi.StringAsset):
            found[key] = {"kind": "StringAsset", "text": value.text}
        elif isinstance(value, pulumi.FileArchive):
            found[key] = {"kind": "FileArchive", "path": value.path}
        elif isinstance(value, pulumi.AssetArchive):
            found[key] = {"kind": "AssetArchive", "assets": {k: type(v).__name__ for k, v in value.assets.items()}}
    if found:
        report_violation(json.dumps({"name": args.name, **found}))

PolicyPack("assets", [ResourceValidationPolicy(name="assets", description="assets", validate=assets)],
           enforcement_level=EnforcementLevel.ADVISORY)
"""


def test_assets_and_archives_reach_policies_as_sdk_asset_objects(preview, tmp_path):
    data = tmp_path / "payload.txt"
    data.write_text("hello from a file")
    code = tmp_path / "app"
    code.mkdir()
    (code / "index.py").write_text("def handler(event, context): return 1\n")
    program = f"""
import pulumi
import pulumi_aws as aws
aws.s3.BucketObjectv2("object", bucket="b", key="k", source=pulumi.FileAsset({str(data)!r}))
aws.lambda_.Function("fn", role="arn:aws:iam::123456789012:role/r", runtime="python3.12", handler="index.handler",
                     code=pulumi.FileArchive({str(code)!r}))
"""
    graph = preview(program, {"aws:region": "us-east-1"})
    # The engine records assets by kind and path; a StringAsset/AssetArchive record with its text/assets
    # (as the engine may record them) goes out just as well.
    graph.add(Resource("urn:pulumi:dev::testproj::aws:s3/bucketObjectv2:BucketObjectv2::inline",
                       "aws:s3/bucketObjectv2:BucketObjectv2", "inline", True, parent=graph.root.urn,
                       inputs={"content": {"asset": "StringAsset", "text": "inline text"},
                               "bundle": {"asset": "AssetArchive",
                                          "assets": {"a.txt": {"asset": "StringAsset", "text": "a"}}}}))
    run = run_packs(graph, write_pack(tmp_path / "assets", ASSET_PACK))
    seen = {entry["name"]: entry for entry in reported(run, "assets")}
    assert seen["object"]["source"] == {"kind": "FileAsset", "path": str(data), "contents": "hello from a file"}
    assert seen["fn"]["code"] == {"kind": "FileArchive", "path": str(code)}
    assert seen["inline"]["content"] == {"kind": "StringAsset", "text": "inline text"}
    assert seen["inline"]["bundle"] == {"kind": "AssetArchive", "assets": {"a.txt": "StringAsset"}}


PROVIDER_PACK = """
def provider(args, report_violation):
    if args.provider is not None and not args.resource_type.startswith("pulumi:providers:"):
        report_violation(json.dumps({"name": args.name, "type": args.provider.resource_type,
                                     "props": {k: args.provider.props[k] for k in args.provider.props}}))

PolicyPack("provider", [ResourceValidationPolicy(name="provider", description="provider", validate=provider)],
           enforcement_level=EnforcementLevel.ADVISORY)
"""


def test_an_explicit_provider_carries_its_version(preview, tmp_path):
    program = """
import pulumi
import pulumi_aws as aws
east = aws.Provider("east", region="us-east-1")
aws.s3.BucketV2("data", bucket="data", opts=pulumi.ResourceOptions(provider=east))
"""
    graph = preview(program, {"aws:region": "us-east-1"})
    provider = graph.of_type("pulumi:providers:aws")[0]
    version = provider.options.get("version")
    assert version, "the SDK sets an explicit provider's version; the engine records it"
    (seen,) = reported(run_packs(graph, write_pack(tmp_path / "provider", PROVIDER_PACK)), "provider")
    assert seen["type"] == "pulumi:providers:aws"
    assert seen["props"]["version"] == version and seen["props"]["region"] == "us-east-1"


def test_a_dynamic_provider_receives_the_stack_config(tmp_path):
    stack = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"
    provider = "urn:pulumi:dev::proj::pulumi:providers:pulumi-python::default"
    graph = ResourceGraph("proj", "dev", {"aws:region": "eu-west-1", "proj:team": {"name": "ml"},
                                          "proj:token": "[secret]"})
    graph.add(Resource(stack, "pulumi:pulumi:Stack", "proj-dev", False))
    graph.add(Resource(provider, "pulumi:providers:pulumi-python", "default", True, id="04da6b54"))
    graph.add(Resource("urn:pulumi:dev::proj::pulumi-python:dynamic:Resource::thing", "pulumi-python:dynamic:Resource",
                       "thing", True, parent=stack, provider=f"{provider}::04da6b54", inputs={"x": 1}))
    (seen,) = reported(run_packs(graph, write_pack(tmp_path / "provider", PROVIDER_PACK)), "provider")
    assert seen == {"name": "thing", "type": "pulumi:providers:pulumi-python",
                    "props": {"aws:region": "eu-west-1", "proj:team": '{"name": "ml"}', "proj:token": "[secret]"}}


TAGS_PACK = """
def tags(args, report_violation):
    if args.resource_type == "pulumi:pulumi:Stack":
        report_violation(json.dumps(dict(args.stack_tags)))

PolicyPack("tags", [ResourceValidationPolicy(name="tags", description="tags", validate=tags)],
           enforcement_level=EnforcementLevel.ADVISORY)
"""


def test_configure_stack_sends_the_users_stack_tags_and_the_clis_own(preview, tmp_path):
    graph = preview("import pulumi\npulumi.export('x', 1)\n", {})
    (tmp_path / "Pulumi.yaml").write_text("name: testproj\nruntime: python\ndescription: GPU training\n")
    environment = PackEnvironment.for_graph(graph, dict([stack_tag("team=ml"), stack_tag("env=a=b")]),
                                            project_description(tmp_path))
    (seen,) = reported(run_packs(graph, write_pack(tmp_path / "tags", TAGS_PACK), environment=environment), "tags")
    assert seen == {"team": "ml", "env": "a=b", "pulumi:project": "testproj", "pulumi:runtime": "python",
                    "pulumi:description": "GPU training"}
    with pytest.raises(Exception, match="expected KEY=VALUE"):
        stack_tag("team")
    with pytest.raises(Exception, match="reserved"):
        stack_tag("pulumi:project=other")


def test_the_pack_version_comes_from_pulumipolicy_yaml(preview, tmp_path):
    pack = write_pack(tmp_path / "versioned", """
def always(args, report_violation):
    if args.resource_type == "pulumi:pulumi:Stack":
        report_violation("seen")

PolicyPack("versioned", [ResourceValidationPolicy(name="always", description="always", validate=always)],
           enforcement_level=EnforcementLevel.ADVISORY)
""", version="2.3.4")
    run = run_packs(preview("import pulumi\n", {}), pack)
    assert [p.version for p in run.packs] == ["2.3.4"]
    assert [v.policy_pack_version for v in run.violations] == ["2.3.4"]


def test_an_initial_config_entry_without_a_level_makes_the_policy_advisory(preview, tmp_path):
    pack = write_pack(tmp_path / "initial", """
def limit(args, report_violation, config=None):
    if args.resource_type == "pulumi:pulumi:Stack":
        report_violation(f"limit {args.get_config()['limit']:g}")

PolicyPack("initial", [ResourceValidationPolicy(name="limit", description="limit", validate=limit,
                                                config_schema=PolicyConfigSchema({"limit": {"type": "integer"}}))],
           enforcement_level=EnforcementLevel.MANDATORY, initial_config={"limit": {"limit": 3}})
""")
    run = run_packs(preview("import pulumi\n", {}), pack)
    assert run.config["initial"]["limit"].enforcement_level == "advisory"
    (violation,) = run.violations
    assert violation.enforcement_level == "advisory" and violation.detail == "limit 3"


def test_violation_urns_are_the_analyzed_resource_or_a_resource_of_the_stack(preview, tmp_path):
    pack = write_pack(tmp_path / "urns", """
def elsewhere(args, report_violation):
    if args.resource_type == "aws:s3/bucketV2:BucketV2":
        report_violation("resource", "urn:pulumi:dev::testproj::aws:s3/bucketV2:BucketV2::somebody-else")

def stack(args, report_violation):
    bucket = next(r for r in args.resources if r.resource_type == "aws:s3/bucketV2:BucketV2")
    report_violation("inside", bucket.urn)
    report_violation("outside", "urn:pulumi:other::proj::aws:s3/bucketV2:BucketV2::not-here")

PolicyPack("urns", [ResourceValidationPolicy(name="elsewhere", description="elsewhere", validate=elsewhere),
                    StackValidationPolicy(name="stack", description="stack", validate=stack)],
           enforcement_level=EnforcementLevel.MANDATORY)
""")
    graph = preview(BUCKET, {"aws:region": "us-east-1"})
    run = run_packs(graph, pack)
    bucket = graph.of_type("aws:s3/bucketV2:BucketV2")[0]
    assert {v.detail: v.urn for v in run.violations} == {"resource": bucket.urn, "inside": bucket.urn,
                                                         "outside": graph.root.urn}


def test_an_environments_key_in_a_policy_config_file_is_ignored(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"environments": ["org/prod"], "probe": "advisory"}))
    config = load_config_file(path)
    assert set(config) == {"probe"} and config["probe"].enforcement_level == "advisory"
    assert parse_config({"environments": {"any": "thing"}}, "inline") == {}


def test_config_validation_errors_use_the_clis_wording(preview, tmp_path):
    pack = write_pack(tmp_path / "config-policy", """
schema = PolicyConfigSchema({"foo": {"type": "string", "maxLength": 3}, "bar": {"type": "integer"},
                             "baz": {"type": "string", "enum": ["a", "b"]}, "qux": {"type": "string"}}, ["qux"])
PolicyPack("config-policy", [ResourceValidationPolicy(name="resource-validation", description="d",
                                                      validate=lambda args, report: None, config_schema=schema)],
           enforcement_level=EnforcementLevel.MANDATORY)
""", version="0.0.1")
    configs = {"config-policy": [parse_config({"resource-validation": {"foo": "this is too long", "bar": 3.14,
                                                                         "baz": "c"}}, "inline")]}
    with pytest.raises(PolicyPackError) as raised:
        run_packs(preview("import pulumi\n", {}), pack, configs=configs)
    preamble = "validating policy config: config-policy 0.0.1  resource-validation: "
    assert str(raised.value).splitlines() == [
        preamble + "bar: Invalid type. Expected: integer, given: number",
        preamble + 'baz: baz must be one of the following: "a", "b"',
        preamble + "foo: String length must be less than or equal to 3",
        preamble + "qux is required",
    ]


def test_aifinops_preview_sends_stack_tags_from_the_flag_and_pulumi_yaml(tmp_path, capsys):
    from aifinops.cli import main
    from tests.conftest import write_project

    root = write_project(tmp_path / "project", "import pulumi\npulumi.export('x', 1)\n")
    (root / "Pulumi.yaml").write_text((root / "Pulumi.yaml").read_text() + "description: GPU training\n")
    pack = write_pack(tmp_path / "tags", TAGS_PACK)
    assert main(["preview", "-C", str(root), "--json", "--policy-pack", str(pack), "--stack-tag", "team=ml"]) == 0
    digest = json.loads(capsys.readouterr().out)
    (violation,) = digest["policyViolations"]
    assert json.loads(violation["message"].split("\n", 1)[1]) == {
        "team": "ml", "pulumi:project": "testproj", "pulumi:runtime": "python", "pulumi:description": "GPU training"}
    with pytest.raises(SystemExit) as usage:  # argparse's usage error, exit 2
        main(["preview", "-C", str(root), "--stack-tag", "team"])
    assert usage.value.code == 2 and "--stack-tag 'team': expected KEY=VALUE" in capsys.readouterr().err


def test_a_remediation_is_reported_as_the_cli_prints_it(tmp_path, capsys):
    from aifinops.cli import main
    from tests.conftest import write_project

    root = write_project(tmp_path / "project", BUCKET, {"aws:region": "us-east-1"})
    pack = write_pack(tmp_path / "tagger", TAGGER)
    assert main(["preview", "--cwd", str(root), "--policy-pack", str(pack)]) == 0
    out = capsys.readouterr().out
    assert "- [remediate]  add-owner  (aws:s3/bucketV2:BucketV2: data)" in out and "remediated: tags" in out
    assert main(["preview", "--cwd", str(root), "--policy-pack", str(pack), "--json"]) == 0
    digest = json.loads(capsys.readouterr().out)
    assert [v["enforcementLevel"] for v in digest["policyViolations"] if v["policy"] == "add-owner"] == ["remediate"]
    step = next(s for s in digest["steps"] if s["urn"].endswith("::data"))
    assert step["newState"]["inputs"]["tags"] == {"Team": "ml", "Owner": "platform"}
