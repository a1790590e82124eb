#!/bin/bash
# aifinops checkpoint watcher: runs on every GpuFleet instance (installed by the launch template's
# user data as a systemd service). It polls the instance metadata service (IMDSv2) for a spot
# interruption notice or an Auto Scaling termination, then:
#   1. runs the script AIFINOPS_CHECKPOINT_COMMAND_FILE (e.g. signal the trainer to write a checkpoint),
#      bounded by AIFINOPS_CHECKPOINT_COMMAND_TIMEOUT seconds;
#   2. copies AIFINOPS_CHECKPOINT_DIR to AIFINOPS_CHECKPOINT_URI (when set);
#   3. completes the termination lifecycle action so the instance goes without waiting out the timeout.
# Settings come from /etc/aifinops/checkpoint.env (see components/checkpoint_watcher.py).
set -uo pipefail

IMDS="${AIFINOPS_IMDS_ENDPOINT:-http://169.254.169.254}"
POLL_SECONDS="${AIFINOPS_POLL_SECONDS:-5}"
COMMAND_TIMEOUT="${AIFINOPS_CHECKPOINT_COMMAND_TIMEOUT:-60}"
CHECKPOINT_DIR="${AIFINOPS_CHECKPOINT_DIR:-/opt/checkpoints}"
CHECKPOINT_URI="${AIFINOPS_CHECKPOINT_URI:-}"
HOOK_NAME="${AIFINOPS_LIFECYCLE_HOOK:-}"

log() { echo "aifinops-checkpoint-watcher: $*" >&2; }

imds_token() {
  curl -sf -X PUT "$IMDS/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300"
}

imds_get() {
  curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/latest/meta-data/$1"
}

# Wait for the notice. A spot notice gives two minutes; an Auto Scaling termination (scale-in,
# capacity rebalancing, instance refresh) holds the instance for the lifecycle hook's heartbeat timeout.
reason=""
while [ -z "$reason" ]; do
  if TOKEN="$(imds_token)"; then
    if [ "$(imds_get autoscaling/target-lifecycle-state)" = "Terminated" ]; then
      reason="auto-scaling-termination"
    elif imds_get spot/instance-action >/dev/null; then
      reason="spot-interruption"
    fi
  fi
  [ -n "$reason" ] || sleep "$POLL_SECONDS"
done
log "termination notice ($reason): saving checkpoint"

COMMAND_FILE="${AIFINOPS_CHECKPOINT_COMMAND_FILE:-}"
if [ -n "$COMMAND_FILE" ] && [ -f "$COMMAND_FILE" ]; then
  timeout "$COMMAND_TIMEOUT" bash "$COMMAND_FILE" || log "checkpoint command failed or timed out"
fi

if [ -n "$CHECKPOINT_URI" ] && [ -d "$CHECKPOINT_DIR" ]; then
  aws s3 sync "$CHECKPOINT_DIR" "$CHECKPOINT_URI" --only-show-errors || log "checkpoint upload failed"
fi

if [ -n "$HOOK_NAME" ]; then
  TOKEN="$(imds_token)"
  instance_id="$(imds_get instance-id)"
  region="$(imds_get placement/region)"
  group="$(aws autoscaling describe-auto-scaling-instances --region "$region" --instance-ids "$instance_id" \
    --query 'AutoScalingInstances[0].AutoScalingGroupName' --output text)"
  # Fails harmlessly when no lifecycle action is pending (a spot notice can come before the ASG acts).
  aws autoscaling complete-lifecycle-action --region "$region" --auto-scaling-group-name "$group" \
    --lifecycle-hook-name "$HOOK_NAME" --instance-id "$instance_id" --lifecycle-action-result CONTINUE \
    || log "no pending lifecycle action to complete"
fi
log "done"
