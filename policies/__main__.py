"""Builds the mlops-hub policy pack. Nothing else belongs here: importing this module starts the pack's
gRPC server and never returns, so policies live in importable modules under mlops_policies/."""

from pulumi_policy import EnforcementLevel, PolicyPack

from mlops_policies import iam_no_admin_statements

PolicyPack(
    name="mlops-hub",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        iam_no_admin_statements.POLICY,
    ],
)
