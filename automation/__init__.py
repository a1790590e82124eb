"""Runtime cost automation on boto3: tag audits, idle-GPU stops, budget-triggered stops, cost reports.

Nothing here imports pulumi: each handler module is packaged, with `components/catalog.py` and its data,
into a Lambda archive by the components that deploy it. Every action is dry-run unless asked otherwise,
stops and never deletes, and is logged with the ARN it touched.
"""
