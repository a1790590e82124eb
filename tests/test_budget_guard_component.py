"""BudgetGuard: wired to a CostBudget's topic, a role that can stop only resources with the budget's cost
tags, a subscription that ignores the guard's own summaries, and every validation error."""
from __future__ import annotations

import json

import pytest

from aifinops.components.budget_guard import BudgetGuard, BudgetGuardArgs
from aifinops.core.automation_settings import SOURCE_ATTRIBUTE, GuardSettings, from_env
from tests.conftest import tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


TOPIC = "arn:aws:sns:us-east-1:123456789012:team-budget-alerts"
WITH_BUDGET = """
from aifinops.components.budget_guard import BudgetGuard, BudgetGuardArgs
from aifinops.components.cost_budget import CostBudget, CostBudgetArgs
budget = CostBudget("team", CostBudgetArgs(amount_usd=1500, tag_filters={"Project": "llm"}))
BudgetGuard("guard", BudgetGuardArgs(cost_tags={"Project": "llm"}, cost_budget=budget))
"""


def only(graph, type_token):
    (resource,) = graph.of_type(type_token)
    return resource


def statements(graph, name: str = "guard") -> dict:
    (policy,) = [r for r in graph.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == f"{name}-policy"]
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_guard_subscribes_to_the_budgets_topic_and_ignores_its_own_summaries(preview):
    graph = preview(WITH_BUDGET, tagged_config())
    topic, function = only(graph, "aws:sns/topic:Topic"), only(graph, "aws:lambda/function:Function")
    subscription = only(graph, "aws:sns/topicSubscription:TopicSubscription").inputs
    assert (subscription["topic"], subscription["protocol"], subscription["endpoint"]) == \
        (topic.outputs["arn"], "lambda", function.outputs["arn"])
    assert json.loads(subscription["filterPolicy"]) == {SOURCE_ATTRIBUTE: [{"exists": False}]}
    permission = only(graph, "aws:lambda/permission:Permission").inputs
    assert (permission["principal"], permission["sourceArn"]) == ("sns.amazonaws.com", topic.outputs["arn"])
    deployed = from_env(GuardSettings, function.inputs["environment"]["variables"])
    assert deployed == GuardSettings(cost_tags={"Project": ("llm",)}, budget_names=("team",),
                                     topic_arns=(topic.outputs["arn"],), summary_topic_arn=topic.outputs["arn"])
    assert deployed.dry_run is True


def test_role_stops_only_what_carries_the_cost_tags(preview):
    graph = preview(WITH_BUDGET, tagged_config())
    found = statements(graph)
    tagged = {"StringEquals": {"aws:ResourceTag/Project": ["llm"]}}
    assert found["StopBudgetInstances"]["Condition"] == tagged
    assert found["StopBudgetTrainingJobs"]["Condition"] == tagged
    assert found["StopBudgetTrainingJobs"]["Resource"] == "arn:aws:sagemaker:us-east-1:123456789012:training-job/*"
    assert found["EncryptSummary"]["Condition"]["StringEquals"]["kms:ViaService"] == "sns.us-east-1.amazonaws.com"
    actions = {a for s in found.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not {a for a in actions if any(word in a for word in ("Terminate", "Delete", "Start", "*"))}


def test_guard_for_a_budget_managed_elsewhere(preview):
    program = f"""
from aifinops.core.automation_settings import GuardSettings
from aifinops.components.budget_guard import BudgetGuard, BudgetGuardArgs
BudgetGuard("guard", BudgetGuardArgs(cost_tags={{"Project": ["llm", "eval"], "Environment": "dev"}}, topic_arn="{TOPIC}",
            topic_kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/1234",
            settings=GuardSettings(stop_training_jobs=False, alert_types=("ACTUAL", "FORECASTED"), dry_run=False)))
"""
    graph = preview(program, tagged_config())
    found = statements(graph)
    assert found["StopBudgetInstances"]["Condition"] == {"StringEquals": {
        "aws:ResourceTag/Project": ["llm", "eval"], "aws:ResourceTag/Environment": ["dev"]}}
    assert "StopBudgetTrainingJobs" not in found
    assert found["EncryptSummary"]["Resource"] == "arn:aws:kms:us-east-1:123456789012:key/1234"
    deployed = from_env(GuardSettings, only(graph, "aws:lambda/function:Function").inputs["environment"]["variables"])
    assert (deployed.budget_names, deployed.topic_arns, deployed.dry_run) == ((), (TOPIC,), False)


@pytest.mark.parametrize("changes, message", [
    ({"cost_tags": {}}, "cost_tags: expected at least one tag key with its value(s)"),
    ({"cost_tags": {"Project": ""}}, "cost_tags.Project: expected a list of non-empty strings"),
    ({"topic_arn": None}, "topic_arn: expected the budget's alert topic ARN (or give cost_budget), got None"),
    ({"topic_arn": "arn:aws:sqs:us-east-1:123456789012:q"}, "topic_arn: expected an ARN of the sns service"),
    ({"cost_budget": object()}, "cost_budget: give a CostBudget or topic_arn/budget_name, not both"),
    ({"topic_arn": None, "cost_budget": object()}, "cost_budget: expected a CostBudget with an alerts topic"),
    ({"settings": GuardSettings(cost_tags={"Project": "x"})}, "settings.cost_tags: set by the component"),
    ({"settings": GuardSettings(alert_types=("FORECASTED",), dry_run=False, budget_names=("b",))},
     "settings.budget_names: set by the component"),
    ({"notification_topic_arn": "arn:aws:sqs:us-east-1:123456789012:q"}, "notification_topic_arn: expected an ARN of the sns"),
    ({"tags": ["Owner"]}, "tags: expected a mapping of string tag keys to string values"),
])
def test_guard_validation(changes, message):
    values = {"cost_tags": {"Project": "llm"}, "topic_arn": TOPIC, **changes}
    with pytest.raises(ValueError) as error:
        BudgetGuard("guard", BudgetGuardArgs(**values))
    assert message in str(error.value)


def test_stack_section_wires_a_guard_to_a_budget_by_name(preview_stack_program):
    config = tagged_config({
        "costBudgets": [{"name": "team", "amountUsd": 1500, "tagFilters": {"Project": "llm"}}],
        "budgetGuards": [{"name": "team-guard", "costBudget": "team", "settings": {"dryRun": False}}]},
        project="aifinops")
    graph = preview_stack_program(config)
    deployed = from_env(GuardSettings, only(graph, "aws:lambda/function:Function").inputs["environment"]["variables"])
    assert deployed.cost_tags == {"Project": ("llm",)} and deployed.budget_names == ("team",)
    assert deployed.dry_run is False
    assert statements(graph, "team-guard")["StopBudgetInstances"]["Condition"] == \
        {"StringEquals": {"aws:ResourceTag/Project": ["llm"]}}


def test_stack_section_rejects_an_unknown_budget(preview_stack_program):
    from aifinops.core.errors import ProgramError

    with pytest.raises(ProgramError, match="budgetGuards\\[0\\].costBudget: expected the name of a costBudgets entry"):
        preview_stack_program(tagged_config({"budgetGuards": [{"name": "g", "costBudget": "nope"}]},
                                            project="aifinops"))
