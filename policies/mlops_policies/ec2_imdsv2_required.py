"""ec2-imdsv2-required: instances and launch templates require IMDSv2 and keep it off the pods' hop."""

from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.aws_types import EC2_INSTANCE, EC2_LAUNCH_TEMPLATE
from mlops_policies.support import Controls, get, resource_policy

DEFAULT_MAX_HOP_LIMIT = 1
_TOKEN_SETTINGS = frozenset({"optional", "required"})


def metadata_findings(metadata_options: Any, max_hop_limit: int) -> Iterator[str]:
    """Findings for one metadataOptions block (unset values are the AMI's defaults, treated as insecure)."""
    if get(metadata_options, "httpEndpoint") == "disabled":
        return
    tokens = get(metadata_options, "httpTokens")
    if tokens != "required":
        shown = f"`{tokens}`" if tokens in _TOKEN_SETTINGS else "unset"
        yield (f"IMDSv1 stays available (httpTokens {shown}); set metadataOptions.httpTokens to required")
    hops = get(metadata_options, "httpPutResponseHopLimit")
    if not isinstance(hops, int | float) or isinstance(hops, bool):
        yield (
            "httpPutResponseHopLimit is unset, so the AMI decides (EKS AL2023 AMIs use 2, which lets pods "
            f"reach the node's credentials); set it to {max_hop_limit}"
        )
    elif hops > max_hop_limit:
        yield (
            f"httpPutResponseHopLimit is {int(hops)}, so containers reach the instance's credentials; "
            f"set it to at most {max_hop_limit}"
        )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (EC2_LAUNCH_TEMPLATE, EC2_INSTANCE):
        return
    metadata_options = get(args.props, "metadataOptions")
    if args.resource_type == EC2_INSTANCE and metadata_options is None and get(args.props, "launchTemplate"):
        return  # the launch template's metadata options apply, and are checked on the template
    maximum = int(args.get_config().get("maxHopLimit", DEFAULT_MAX_HOP_LIMIT))
    for finding in metadata_findings(metadata_options, maximum):
        report_violation(finding, None)


POLICY = resource_policy(
    name="ec2-imdsv2-required",
    description=(
        "EC2 instances and launch templates require IMDSv2 (metadataOptions.httpTokens required) with "
        "httpPutResponseHopLimit at most `maxHopLimit` (default 1), unless the metadata endpoint is disabled."
    ),
    severity=Severity.HIGH,
    remediation=(
        'Set metadataOptions to `{"httpTokens": "required", "httpPutResponseHopLimit": 1, '
        '"httpEndpoint": "enabled"}`. Pods then use IRSA or EKS Pod Identity instead of the node role; '
        "hostNetwork pods (VPC CNI) are unaffected by the hop limit."
    ),
    controls=Controls(cis=("AWS-5.6",), nist=("CM-6", "AC-3", "SC-7")),
    validate=_validate,
    config_schema=PolicyConfigSchema(
        properties={
            "maxHopLimit": {
                "type": "integer",
                "minimum": 1,
                "maximum": 64,
                "default": DEFAULT_MAX_HOP_LIMIT,
                "description": "Largest httpPutResponseHopLimit allowed.",
            }
        }
    ),
)
