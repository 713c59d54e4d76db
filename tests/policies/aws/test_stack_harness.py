"""The stack harness against the SDK itself: same request, same findings as pulumi-policy's AnalyzeStack."""

from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, PolicyResource, StackValidationArgs, StackValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer  # the SDK's own servicer, as the engine drives it

from mlops_policies import s3_encrypted_with_cmk, s3_public_access_blocked, s3_tls_only, vpc_flow_logs_enabled
from mlops_policies.aws_types import (
    EC2_FLOW_LOG,
    EC2_VPC,
    S3_BUCKET,
    S3_BUCKET_POLICY,
    S3_BUCKET_PUBLIC_ACCESS_BLOCK,
    S3_BUCKET_SSE,
)

STACK_POLICIES = [
    s3_public_access_blocked.POLICY,
    s3_encrypted_with_cmk.POLICY,
    s3_tls_only.POLICY,
    vpc_flow_logs_enabled.POLICY,
]


def _stack(unknown: str) -> list[dict[str, Any]]:
    return [
        {"type": S3_BUCKET, "name": "data", "props": {}},
        {"type": S3_BUCKET, "name": "logs", "props": {"bucket": "mlops-logs"}},
        {
            "type": S3_BUCKET_PUBLIC_ACCESS_BLOCK,
            "name": "data-pab",
            "props": {"bucket": unknown, "blockPublicAcls": True},
            "property_dependencies": {"bucket": ["data"]},
        },
        {
            "type": S3_BUCKET_SSE,
            "name": "data-sse",
            "props": {
                "bucket": unknown,
                "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
            },
            "property_dependencies": {"bucket": ["data"]},
        },
        {
            "type": S3_BUCKET_POLICY,
            "name": "logs-policy",
            "props": {"bucket": "mlops-logs", "policy": unknown},
        },
        {"type": EC2_VPC, "name": "vpc", "props": {}},
        {"type": EC2_VPC, "name": "other-vpc", "props": {}},
        {
            "type": EC2_FLOW_LOG,
            "name": "flow-log",
            "props": {"vpcId": unknown, "trafficType": "ALL"},
            "property_dependencies": {"vpcId": ["vpc"]},
        },
    ]


def _sdk_findings(policy: StackValidationPolicy, request: Any) -> tuple[list[tuple[str, str]], str | None]:
    servicer = _PolicyAnalyzerServicer("p", "0.0.1", [policy], EnforcementLevel.MANDATORY)
    response = servicer.AnalyzeStack(request, None)  # type: ignore[no-untyped-call]
    names = {r.urn: r.name for r in request.resources}
    violations, unknown = [], None
    for diagnostic in response.diagnostics:
        if diagnostic.message.startswith("can't run policy"):
            unknown = diagnostic.message.split("during preview: ", 1)[1]
        else:
            violations.append((names.get(diagnostic.urn, ""), diagnostic.message.split("\n", 1)[1]))
    return violations, unknown


@pytest.mark.parametrize("policy", STACK_POLICIES, ids=lambda p: p.name)
def test_the_harness_reports_what_the_sdk_reports(
    check_stack_policy: Any, build_stack_request: Any, unknown: str, policy: StackValidationPolicy
) -> None:
    resources = _stack(unknown)
    run = check_stack_policy(policy, resources)
    assert (run.violations, run.unknown) == _sdk_findings(policy, build_stack_request(resources))
    assert run.violations or run.unknown  # the sample stack exercises every policy


def test_resources_are_linked_by_urn_as_the_sdk_links_them(check_stack_policy: Any) -> None:
    seen: dict[str, PolicyResource] = {}

    def record(args: StackValidationArgs, _report: Any) -> None:
        seen.update({resource.name: resource for resource in args.resources})

    probe = StackValidationPolicy("probe", "records what it sees", record)
    check_stack_policy(
        probe,
        [
            {"type": "t:index:Parent", "name": "parent", "props": {}},
            {
                "type": "t:index:Child",
                "name": "child",
                "props": {"count": 3},
                "parent": "parent",
                "dependencies": ["parent", "absent"],
                "property_dependencies": {"count": ["parent", "absent"]},
            },
        ],
    )
    child = seen["child"]
    assert child.parent is seen["parent"]
    assert child.dependencies == [seen["parent"]]
    assert child.property_dependencies == {"count": [seen["parent"]]}
    assert child.props["count"] == 3.0 and isinstance(child.props["count"], float)
