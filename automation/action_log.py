"""What a job did, resource by resource: every entry is logged (one JSON line, with the ARN) as it happens.

Outcomes: `done` (changed), `dry-run` (would have changed), `skipped` (left alone on purpose), `reported`
(needs a person: no metrics, managed by an Auto Scaling group, ...), `failed` (the call failed; the run
went on). The same report becomes the Lambda's return value, the SNS summary and the CLI's output.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from aifinops.core.automation_settings import SOURCE_ATTRIBUTE

LOGGER = logging.getLogger("aifinops.automation")
OUTCOMES = ("done", "dry-run", "failed", "reported", "skipped")
# SNS limits: subjects up to 100 characters, messages up to 256 KB.
MAX_SUBJECT = 100
MAX_MESSAGE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Entry:
    arn: str
    action: str  # stop, tag, ...
    outcome: str
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class ActionLog:
    job: str
    dry_run: bool
    entries: list[Entry] = field(default_factory=list)

    def record(self, arn: str, action: str, outcome: str, reason: str, **detail: Any) -> Entry:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome: expected one of {', '.join(OUTCOMES)}, got {outcome!r}")
        entry = Entry(arn, action, outcome, reason, {k: v for k, v in detail.items() if v is not None})
        self.entries.append(entry)
        level = logging.WARNING if outcome == "failed" else logging.INFO
        LOGGER.log(level, json.dumps({"job": self.job, "dryRun": self.dry_run, **asdict(entry)}, default=str))
        return entry

    def changed(self, arn: str, action: str, reason: str, **detail: Any) -> Entry:
        """A change: made, or only planned in a dry run."""
        return self.record(arn, action, "dry-run" if self.dry_run else "done", reason, **detail)

    def with_outcome(self, outcome: str) -> list[Entry]:
        return [e for e in self.entries if e.outcome == outcome]

    def counts(self) -> dict[str, int]:
        return {outcome: len(self.with_outcome(outcome)) for outcome in OUTCOMES}

    @property
    def has_news(self) -> bool:
        """Anything changed, planned or failed: worth a message to people."""
        counts = self.counts()
        return bool(counts["done"] or counts["dry-run"] or counts["failed"])

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job, "dryRun": self.dry_run, "counts": self.counts(),
                "entries": [asdict(e) for e in self.entries]}

    def headline(self) -> str:
        counts = self.counts()
        parts = [f"{n} {outcome}" for outcome, n in counts.items() if n]
        mode = " (dry run)" if self.dry_run else ""
        return f"aifinops {self.job}{mode}: {', '.join(parts) or 'nothing to do'}"

    def summary_text(self) -> str:
        lines = [self.headline(), ""]
        titles = {"done": "Done", "dry-run": "Would do (dry run)", "failed": "Failed",
                  "reported": "Needs a look", "skipped": "Skipped"}
        for outcome in OUTCOMES:
            entries = self.with_outcome(outcome)
            if entries:
                lines.append(f"{titles[outcome]}:")
                lines += [f"- {e.action} {e.arn}: {e.reason}" for e in entries]
                lines.append("")
        return "\n".join(lines).rstrip() + "\n"


def publish_summary(sns: Any, topic_arn: str, report: ActionLog, subject: Optional[str] = None) -> Optional[str]:
    """Publish the report's summary to SNS; returns the message id. Long summaries are cut to SNS's limit."""
    message = report.summary_text()
    encoded = message.encode()
    if len(encoded) > MAX_MESSAGE_BYTES:
        marker = "\n[truncated: see the function's log for every entry]\n"
        message = encoded[:MAX_MESSAGE_BYTES - len(marker.encode()) - 4].decode(errors="ignore") + marker
    title = (subject or report.headline()).encode("ascii", errors="ignore").decode()[:MAX_SUBJECT]
    response = sns.publish(TopicArn=topic_arn, Subject=title, Message=message, MessageAttributes={
        SOURCE_ATTRIBUTE: {"DataType": "String", "StringValue": report.job}})
    LOGGER.info(json.dumps({"job": report.job, "arn": topic_arn, "action": "publish-summary",
                            "messageId": response.get("MessageId")}))
    return response.get("MessageId")
