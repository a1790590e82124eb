"""EC2 resource types that launch instances and share the Instance's launch settings."""
from __future__ import annotations

INSTANCE_TYPES = ("aws:ec2/instance:Instance", "aws:ec2/spotInstanceRequest:SpotInstanceRequest")
LAUNCH_TEMPLATE_TYPE = "aws:ec2/launchTemplate:LaunchTemplate"
EBS_VOLUME_TYPE = "aws:ebs/volume:Volume"
