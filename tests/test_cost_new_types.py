"""Each newly priced type: one case worked by hand from aifinops/core/data/service_prices.json, and one
"needs usage" (or, where nothing depends on usage, "unpriced") case."""
from __future__ import annotations

import pytest

from aifinops.core.estimate import FREE, NEEDS_USAGE, PRICED, UNPRICED
from tests.test_cost_estimate import by_name, run

ROLE = "arn:aws:iam::123456789012:role/r"

SAGEMAKER = f"""
import pulumi_aws as aws
model = aws.sagemaker.Model("model", execution_role_arn="{ROLE}", primary_container={{"image": "img"}})
def config(name, variants, **kw):
    return aws.sagemaker.EndpointConfiguration(name, production_variants=variants, **kw)
two = config("two-cfg", [
    {{"variant_name": "a", "model_name": model.name, "instance_type": "ml.g5.xlarge", "initial_instance_count": 2}},
    {{"variant_name": "b", "model_name": model.name, "instance_type": "ml.g5.2xlarge", "initial_instance_count": 1}}])
aws.sagemaker.Endpoint("realtime", endpoint_config_name=two.name)
serverless = config("serverless-cfg", [{{"variant_name": "s", "model_name": model.name,
                                         "serverless_config": {{"memory_size_in_mb": 2048, "max_concurrency": 5}}}}])
aws.sagemaker.Endpoint("serverless", endpoint_config_name=serverless.name)
aws.sagemaker.Endpoint("serverless-idle", endpoint_config_name=serverless.name)
queued = config("async-cfg", [{{"variant_name": "q", "model_name": model.name, "instance_type": "ml.g5.xlarge",
                                "initial_instance_count": 1}}],
                async_inference_config={{"output_config": {{"s3_output_path": "s3://bucket/out"}}}})
aws.sagemaker.Endpoint("async", endpoint_config_name=queued.name)
aws.sagemaker.NotebookInstance("notebook", role_arn="{ROLE}", instance_type="ml.t3.medium", volume_size=20)
"""


def test_sagemaker_endpoints_notebooks_and_jobs(preview):
    usage = {"resources": {"serverless": {"monthlyInvocations": 1_000_000, "averageDurationMs": 500},
                           "async": {"monthlyHours": 100}},
             "sagemakerJobs": {"finetune": {"kind": "training", "instanceType": "ml.p4d.24xlarge", "instances": 2,
                                            "monthlyHours": 40, "managedSpot": True},
                               "features": {"kind": "processing", "instanceType": "ml.m5.xlarge", "monthlyHours": 60}}}
    result = run(preview, SAGEMAKER, usage)
    # per variant: 2 x 730 h x $1.408 = $2,055.68; 1 x 730 h x $1.515 = $1,105.95
    realtime = by_name(result, "realtime")
    assert [round(line.monthly_usd, 2) for line in realtime.lines] == [2055.68, 1105.95]
    assert "monthlyProcessedGb" in realtime.note
    # serverless: 1 M x 0.5 s x 2 GB = 1 M GB-s x $0.00002 = $20.00
    assert by_name(result, "serverless").monthly_usd == pytest.approx(20.0)
    # async, 100 h from the usage file: 100 x $1.408 = $140.80
    assert by_name(result, "async").monthly_usd == pytest.approx(140.8)
    # notebook: 730 x $0.05 = $36.50 + 20 GB x $0.14 = $2.80
    assert by_name(result, "notebook").monthly_usd == pytest.approx(39.3)
    assert by_name(result, "two-cfg").status == FREE and by_name(result, "model").status == FREE
    # training: 2 x 40 h x $37.688 = $3,015.04, managed spot at p4d's 60% off: -$1,809.024
    finetune = by_name(result, "finetune")
    assert finetune.type == "aifinops:usage:SageMakerJob" and finetune.status == PRICED
    assert finetune.monthly_usd == pytest.approx(3015.04 * 0.4)
    assert finetune.naive_monthly_usd == pytest.approx(3015.04)
    # processing: 60 h x $0.23 = $13.80
    assert by_name(result, "features").monthly_usd == pytest.approx(13.8)
    assert result.monthly_usd == pytest.approx(2055.68 + 1105.95 + 20 + 140.8 + 39.3 + 3015.04 * 0.4 + 13.8)


def test_sagemaker_serverless_without_usage_needs_it(preview):
    idle = by_name(run(preview, SAGEMAKER), "serverless-idle")
    assert idle.status == NEEDS_USAGE and "monthlyInvocations" in idle.note and "2e-05" in idle.note


def test_sagemaker_instance_without_a_price_is_unpriced(preview):
    program = f"""
import pulumi_aws as aws
aws.sagemaker.NotebookInstance("odd", role_arn="{ROLE}", instance_type="ml.x1.mega")
"""
    odd = by_name(run(preview, program), "odd")
    assert odd.status == UNPRICED and "ml.x1.mega" in odd.note


STORAGE = """
import pulumi_aws as aws
aws.efs.FileSystem("shared")
aws.efs.FileSystem("elastic", throughput_mode="elastic")
aws.efs.FileSystem("unsized")
aws.fsx.LustreFileSystem("scratch", storage_capacity=1200, subnet_ids="subnet-1", deployment_type="SCRATCH_2")
aws.fsx.LustreFileSystem("persistent", storage_capacity=2400, subnet_ids="subnet-1", deployment_type="PERSISTENT_2",
                         per_unit_storage_throughput=250)
aws.fsx.LustreFileSystem("odd", storage_capacity=2400, subnet_ids="subnet-1", deployment_type="PERSISTENT_2")
aws.ecr.Repository("images")
aws.ecr.Repository("empty")
data = aws.ebs.Volume("data", availability_zone="us-east-1a", size=200, type="gp3")
aws.ebs.Snapshot("snap", volume_id=data.id)
aws.ebs.Snapshot("measured", volume_id=data.id)
aws.ebs.Snapshot("foreign", volume_id="vol-0123456789abcdef0")
"""


def test_storage_types(preview):
    usage = {"resources": {"shared": {"storageGb": 1000, "infrequentAccessPercent": 40},
                           "elastic": {"storageGb": 100, "monthlyReadGb": 100, "monthlyWriteGb": 10},
                           "images": {"storageGb": 50}, "measured": {"storageGb": 30}}}
    result = run(preview, STORAGE, usage)
    # EFS: 600 GB x $0.30 = $180 + 400 GB IA x $0.016 = $6.40
    assert by_name(result, "shared").monthly_usd == pytest.approx(186.4)
    # Elastic throughput: 100 GB x $0.30 + 100 GB read x $0.03 + 10 GB written x $0.06 = $33.60
    assert by_name(result, "elastic").monthly_usd == pytest.approx(33.6)
    # FSx for Lustre: 1,200 GB x $0.14 = $168; PERSISTENT_2 at 250 MB/s/TiB: 2,400 GB x $0.21 = $504
    assert by_name(result, "scratch").monthly_usd == pytest.approx(168.0)
    assert by_name(result, "persistent").monthly_usd == pytest.approx(504.0)
    # ECR: 50 GB x $0.10 = $5
    assert by_name(result, "images").monthly_usd == pytest.approx(5.0)
    # snapshots: the whole 200 GB volume as an upper bound x $0.05 = $10; measured 30 GB = $1.50
    snap = by_name(result, "snap")
    assert snap.monthly_usd == pytest.approx(10.0) and "upper bound" in snap.lines[0].assumption
    assert by_name(result, "measured").monthly_usd == pytest.approx(1.5)


def test_storage_types_without_usage(preview):
    result = run(preview, STORAGE)
    for name in ("unsized", "empty", "foreign"):
        resource = by_name(result, name)
        assert resource.status == NEEDS_USAGE and "storageGb" in resource.note, name
    odd = by_name(result, "odd")
    assert odd.status == UNPRICED and "perUnitStorageThroughput" in odd.note


NETWORK = """
import pulumi_aws as aws
aws.ec2.VpcEndpoint("s3", vpc_id="vpc-1", service_name="com.amazonaws.us-east-1.s3")
aws.ec2.VpcEndpoint("ecr", vpc_id="vpc-1", service_name="com.amazonaws.us-east-1.ecr.dkr",
                    vpc_endpoint_type="Interface", subnet_ids=["subnet-1", "subnet-2"])
aws.ec2.VpcEndpoint("sts", vpc_id="vpc-1", service_name="com.amazonaws.us-east-1.sts",
                    vpc_endpoint_type="Interface", subnet_ids=["subnet-1", "subnet-2"])
aws.ec2.SecurityGroup("edge", vpc_id="vpc-1")
aws.cloudfront.Distribution("cdn", enabled=True,
    origins=[{"domain_name": "b.s3.amazonaws.com", "origin_id": "s3"}],
    default_cache_behavior={"allowed_methods": ["GET", "HEAD"], "cached_methods": ["GET", "HEAD"],
                            "target_origin_id": "s3", "viewer_protocol_policy": "redirect-to-https"},
    restrictions={"geo_restriction": {"restriction_type": "none"}},
    viewer_certificate={"cloudfront_default_certificate": True})
aws.apigateway.RestApi("rest")
aws.apigateway.RestApi("quiet")
aws.apigatewayv2.Api("http", protocol_type="HTTP")
aws.apigatewayv2.Api("ws", protocol_type="WEBSOCKET", route_selection_expression="$request.body.action")
aws.route53.Zone("zone", name="example.com")
aws.route53.Zone("busy-zone", name="example.org")
"""


def test_network_types(preview):
    usage = {"resources": {
        "ecr": {"monthlyProcessedGb": 100}, "edge": {"monthlyInternetEgressGb": 20000, "monthlyInterAzGb": 100},
        "cdn": {"monthlyEgressGb": 1000, "monthlyRequestsMillions": 10}, "rest": {"monthlyRequestsMillions": 10},
        "http": {"monthlyRequestsMillions": 10},
        "ws": {"monthlyRequestsMillions": 5, "monthlyConnectionMinutesMillions": 20},
        "busy-zone": {"monthlyQueriesMillions": 100}}}
    result = run(preview, NETWORK, usage)
    assert by_name(result, "s3").status == FREE  # a gateway endpoint
    # interface endpoint: 2 AZs x 730 h x $0.01 = $14.60 + 100 GB x $0.01 = $1.00
    assert by_name(result, "ecr").monthly_usd == pytest.approx(15.6)
    # data transfer on a resource free by itself: 10,240 GB x $0.09 = $921.60, 9,760 GB x $0.085 = $829.60;
    # 100 GB across AZs x $0.02 = $2.00
    edge = by_name(result, "edge")
    assert edge.status == PRICED and edge.monthly_usd == pytest.approx(921.6 + 829.6 + 2.0)
    # CloudFront: 1,000 GB x $0.085 = $85 + 10 M HTTPS requests x $1.00 = $10
    assert by_name(result, "cdn").monthly_usd == pytest.approx(95.0)
    # API Gateway: REST 10 M x $3.50 = $35; HTTP 10 M x $1.00 = $10; WebSocket 5 M x $1 + 20 M minutes x $0.25 = $10
    assert [by_name(result, n).monthly_usd for n in ("rest", "http", "ws")] == pytest.approx([35.0, 10.0, 10.0])
    # Route 53: $0.50 a zone + 100 M queries x $0.40 = $40
    assert by_name(result, "busy-zone").monthly_usd == pytest.approx(40.5)


def test_network_types_without_usage(preview):
    result = run(preview, NETWORK)
    assert "needs usage" in by_name(result, "sts").note and by_name(result, "sts").monthly_usd == pytest.approx(14.6)
    for name in ("cdn", "quiet"):
        assert by_name(result, name).status == NEEDS_USAGE, name
    zone = by_name(result, "zone")
    assert zone.monthly_usd == pytest.approx(0.5) and "monthlyQueriesMillions" in zone.note


DATA = f"""
import pulumi_aws as aws
key = {{"hash_key": "id", "attributes": [{{"name": "id", "type": "S"}}]}}
aws.dynamodb.Table("features", billing_mode="PAY_PER_REQUEST", **key)
aws.dynamodb.Table("fresh", billing_mode="PAY_PER_REQUEST", **key)
aws.dynamodb.Table("provisioned", billing_mode="PROVISIONED", read_capacity=100, write_capacity=50,
    hash_key="id", attributes=[{{"name": "id", "type": "S"}}, {{"name": "user", "type": "S"}}],
    global_secondary_indexes=[{{"name": "by-user", "hash_key": "user", "projection_type": "ALL",
                               "read_capacity": 10, "write_capacity": 5}}])
aws.elasticache.Cluster("cache", engine="redis", node_type="cache.r6g.large", num_cache_nodes=1)
aws.elasticache.ReplicationGroup("group", description="d", node_type="cache.t4g.medium", num_cache_clusters=2)
aws.elasticache.ServerlessCache("valkey", engine="valkey", name="valkey")
aws.elasticache.ServerlessCache("idle", engine="valkey", name="idle")
aws.rds.Instance("db", instance_class="db.r5.large", engine="postgres", allocated_storage=100, multi_az=True)
aurora = aws.rds.Cluster("aurora", engine="aurora-postgresql", master_username="u", manage_master_user_password=True,
                         serverlessv2_scaling_configuration={{"min_capacity": 0.5, "max_capacity": 4}})
aws.rds.ClusterInstance("writer", cluster_identifier=aurora.id, instance_class="db.r6g.large", engine="aurora-postgresql")
aws.rds.ClusterInstance("reader", cluster_identifier=aurora.id, instance_class="db.serverless", engine="aurora-postgresql")
aws.kinesis.FirehoseDeliveryStream("stream", destination="extended_s3",
    extended_s3_configuration={{"role_arn": "{ROLE}", "bucket_arn": "arn:aws:s3:::b"}})
"""


def test_data_types(preview):
    usage = {"resources": {
        "features": {"monthlyWriteRequestsMillions": 10, "monthlyReadRequestsMillions": 100, "storageGb": 50},
        "valkey": {"storageGb": 2, "monthlyEcpuMillions": 1000},
        "aurora": {"storageGb": 100, "monthlyIoRequestsMillions": 50}, "stream": {"monthlyIngestedGb": 500}}}
    result = run(preview, DATA, usage)
    # DynamoDB on demand: 10 M writes x $0.625 + 100 M reads x $0.125 + 50 GB x $0.25 = $31.25
    assert by_name(result, "features").monthly_usd == pytest.approx(31.25)
    # provisioned: 50 WCU x 730 h x $0.00065 = $23.725 + 100 RCU x 730 x $0.00013 = $9.49; its index's
    # 5 WCU = $2.3725 and 10 RCU = $0.949; storage needs usage
    provisioned = by_name(result, "provisioned")
    assert provisioned.monthly_usd == pytest.approx(33.215 + 2.3725 + 0.949) and "storageGb" in provisioned.note
    # ElastiCache: 730 x $0.206 = $150.38; 2 nodes x 730 x $0.065 = $94.90
    assert by_name(result, "cache").monthly_usd == pytest.approx(150.38)
    assert by_name(result, "group").monthly_usd == pytest.approx(94.9)
    # serverless Valkey: 2 GB x 730 h x $0.084 = $122.64 + 1,000 M ECPUs x $0.0023 = $2.30
    assert by_name(result, "valkey").monthly_usd == pytest.approx(124.94)
    # RDS Multi-AZ: 2 x 730 x $0.25 = $365 + 100 GB x 2 copies x $0.115 = $23
    assert by_name(result, "db").monthly_usd == pytest.approx(388.0)
    # Aurora: storage 100 GB x $0.10 + 50 M I/O x $0.20 = $20; writer 730 x $0.26 = $189.80;
    # Serverless v2 reader at its 0.5 ACU minimum: 0.5 x 730 x $0.12 = $43.80
    assert by_name(result, "aurora").monthly_usd == pytest.approx(20.0)
    assert by_name(result, "writer").monthly_usd == pytest.approx(189.8)
    assert by_name(result, "reader").monthly_usd == pytest.approx(43.8)
    # Firehose: 500 GB x $0.029 = $14.50
    assert by_name(result, "stream").monthly_usd == pytest.approx(14.5)


def test_data_types_without_usage(preview):
    result = run(preview, DATA)
    for name in ("fresh", "idle", "aurora", "stream"):
        assert by_name(result, name).status == NEEDS_USAGE, name


SERVICES = f"""
import json
import pulumi_aws as aws
aws.secretsmanager.Secret("token")
aws.secretsmanager.Secret("quiet")
aws.cloudtrail.Trail("audit", s3_bucket_name="trail-bucket")
for name in ("objects", "objects-unmeasured"):
    aws.cloudtrail.Trail(name, s3_bucket_name="trail-bucket", event_selectors=[{{"read_write_type": "All",
        "data_resources": [{{"type": "AWS::S3::Object", "values": ["arn:aws:s3:::datasets/"]}}]}}])
aws.sfn.StateMachine("pipeline", role_arn="{ROLE}", definition=json.dumps({{"StartAt": "A", "States": {{}}}}))
aws.sfn.StateMachine("fast", role_arn="{ROLE}", type="EXPRESS", definition="{{}}")
aws.sfn.StateMachine("unmeasured", role_arn="{ROLE}", definition="{{}}")
aws.cloudwatch.EventBus("bus", name="bus")
aws.cloudwatch.EventBus("quiet-bus", name="quiet-bus")
aws.scheduler.Schedule("nightly", schedule_expression="cron(0 2 * * ? *)", flexible_time_window={{"mode": "OFF"}},
                       target={{"arn": "arn:aws:lambda:us-east-1:123456789012:function:f", "role_arn": "{ROLE}"}})
"""


def test_service_types(preview):
    usage = {"resources": {"token": {"monthlyApiCalls": 100_000}, "objects": {"monthlyDataEvents": 10_000_000},
                           "pipeline": {"monthlyStateTransitions": 1_000_000},
                           "fast": {"monthlyInvocations": 10_000_000, "averageDurationMs": 200},
                           "bus": {"monthlyEventsMillions": 5}, "nightly": {"monthlyInvocations": 30_000_000}}}
    result = run(preview, SERVICES, usage)
    # Secrets Manager: $0.40 + 100,000 calls x $0.05 / 10,000 = $0.50
    assert by_name(result, "token").monthly_usd == pytest.approx(0.9)
    # CloudTrail: management events only in the first trail are free; 10 M data events x $0.10 / 100,000 = $10
    assert by_name(result, "audit").status == FREE
    assert by_name(result, "objects").monthly_usd == pytest.approx(10.0)
    # Step Functions standard: 1 M transitions x $0.025 / 1,000 = $25; express: 10 M x $1 / M = $10 and
    # 10 M x 0.2 s x 64/1024 GB = 125,000 GB-s x $0.00001667 = $2.08375
    assert by_name(result, "pipeline").monthly_usd == pytest.approx(25.0)
    assert by_name(result, "fast").monthly_usd == pytest.approx(10 + 2.08375)
    # EventBridge: 5 M custom events x $1 = $5; Scheduler 30 M invocations x $1 / M = $30
    assert by_name(result, "bus").monthly_usd == pytest.approx(5.0)
    assert by_name(result, "nightly").monthly_usd == pytest.approx(30.0)


def test_service_types_without_usage(preview):
    result = run(preview, SERVICES)
    for name in ("objects-unmeasured", "unmeasured", "quiet-bus", "nightly"):
        assert by_name(result, name).status == NEEDS_USAGE, name
    quiet = by_name(result, "quiet")
    assert quiet.monthly_usd == pytest.approx(0.4) and "monthlyApiCalls" in quiet.note
