"""vpc-flow-logs-enabled: every VPC records its traffic in flow logs."""

from pulumi_policy import ReportViolation, Severity, StackValidationArgs

from mlops_policies.aws_types import EC2_FLOW_LOG, EC2_VPC
from mlops_policies.stack_support import deferring_unknowns, of_type, paired_with, stack_policy
from mlops_policies.support import Controls, get


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    vpcs = of_type(args, {EC2_VPC})
    with deferring_unknowns() as unknowns:
        logged: set[str] = set()
        placed_all = True
        for flow_log in of_type(args, {EC2_FLOW_LOG}):
            before = unknowns.count
            with unknowns.guard():
                targets = paired_with(flow_log, "vpcId", vpcs)
                # CIS needs rejected traffic recorded: an ACCEPT-only flow log does not count.
                if get(flow_log.props, "trafficType") != "ACCEPT":
                    logged.update(vpc.urn for vpc in targets)
            placed_all = placed_all and unknowns.count == before
        if not placed_all:
            return  # an unplaced flow log may be the one a VPC below lacks: let the unknown speak
        for vpc in vpcs:
            if vpc.urn not in logged:
                report_violation(
                    "VPC has no flow log recording rejected traffic; add an aws:ec2/flowLog with vpcId set to "
                    "this VPC and trafficType ALL",
                    vpc.urn,
                )


POLICY = stack_policy(
    name="vpc-flow-logs-enabled",
    description=(
        "Every VPC has an aws:ec2/flowLog whose vpcId refers to it (by dependency or id) and that records "
        "rejected traffic (trafficType ALL or REJECT)."
    ),
    severity=Severity.MEDIUM,
    remediation=(
        'Add `aws.ec2.FlowLog(..., vpc_id=vpc.id, traffic_type="ALL", log_destination=<log group or '
        "bucket ARN>)`, delivering to a KMS-encrypted log group with retention (see AwsNetwork)."
    ),
    controls=Controls(cis=("AWS-3.7",), nist=("AU-2", "AU-12", "SI-4")),
    validate=_validate,
)
