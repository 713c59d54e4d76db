"""ec2-imdsv2-required: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.aws_types import EC2_INSTANCE, EC2_LAUNCH_TEMPLATE
from mlops_policies.ec2_imdsv2_required import POLICY

METADATA: dict[str, Any] = {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
IMDSV1 = "IMDSv1 stays available (httpTokens {}); set metadataOptions.httpTokens to required"
HOPS_UNSET = (
    "httpPutResponseHopLimit is unset, so the AMI decides (EKS AL2023 AMIs use 2, which lets pods reach the "
    "node's credentials); set it to 1"
)
HOPS_TWO = "httpPutResponseHopLimit is 2, so containers reach the instance's credentials; set it to at most 1"


def _options(**changes: Any) -> dict[str, Any]:
    return {k: v for k, v in {**METADATA, **changes}.items() if v is not None}


@pytest.mark.parametrize("resource_type", [EC2_LAUNCH_TEMPLATE, EC2_INSTANCE])
def test_baseline_passes(check_aws_policy: Any, resource_type: str) -> None:
    assert check_aws_policy(POLICY, resource_type, {"metadataOptions": _options()}) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"httpTokens": "optional"}, [IMDSV1.format("`optional`")]),
        ({"httpTokens": None}, [IMDSV1.format("unset")]),
        ({"httpTokens": "sometimes"}, [IMDSV1.format("unset")]),  # never echo an unexpected value
        ({"httpPutResponseHopLimit": None}, [HOPS_UNSET]),
        ({"httpPutResponseHopLimit": 2}, [HOPS_TWO]),
        ({"httpEndpoint": None}, []),
        ({"httpEndpoint": "disabled", "httpTokens": "optional", "httpPutResponseHopLimit": 3}, []),
    ],
    ids=[
        "optional",
        "tokens-unset",
        "tokens-odd",
        "hops-unset",
        "hops-two",
        "endpoint-unset",
        "endpoint-disabled",
    ],
)
def test_mutations(check_aws_policy: Any, changes: dict[str, Any], expected: list[str]) -> None:
    assert check_aws_policy(POLICY, EC2_LAUNCH_TEMPLATE, {"metadataOptions": _options(**changes)}) == expected


def test_unset_metadata_options_are_the_insecure_defaults(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, EC2_LAUNCH_TEMPLATE, {"imageId": "ami-1"}) == [
        IMDSV1.format("unset"),
        HOPS_UNSET,
    ]
    assert check_aws_policy(POLICY, EC2_INSTANCE, {"ami": "ami-1"}) == [IMDSV1.format("unset"), HOPS_UNSET]


def test_an_instance_from_a_launch_template_inherits_its_options(check_aws_policy: Any) -> None:
    props = {"launchTemplate": {"id": "lt-1", "version": "$Latest"}}
    assert check_aws_policy(POLICY, EC2_INSTANCE, props) == []
    props = {**props, "metadataOptions": _options(httpTokens="optional")}
    assert check_aws_policy(POLICY, EC2_INSTANCE, props) == [IMDSV1.format("`optional`")]


@pytest.mark.parametrize("maximum", [2, 2.0], ids=["int", "float-as-delivered"])
def test_max_hop_limit_is_configurable(check_aws_policy: Any, maximum: float) -> None:
    config = {"maxHopLimit": maximum}
    props = {"metadataOptions": _options(httpPutResponseHopLimit=2)}
    assert check_aws_policy(POLICY, EC2_LAUNCH_TEMPLATE, props, config=config) == []
    props = {"metadataOptions": _options(httpPutResponseHopLimit=3)}
    assert check_aws_policy(POLICY, EC2_LAUNCH_TEMPLATE, props, config=config) == [
        "httpPutResponseHopLimit is 3, so containers reach the instance's credentials; set it to at most 2"
    ]


def test_unknown_options_are_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, EC2_LAUNCH_TEMPLATE, {"metadataOptions": _options(httpTokens=unknown)})


def test_other_types_are_ignored(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, "aws:eks/nodeGroup:NodeGroup", {}) == []


def test_findings_decided_before_an_unknown_hop_limit_still_stand(
    check_in_preview: Any, unknown: str
) -> None:
    props = {"metadataOptions": _options(httpTokens="optional", httpPutResponseHopLimit=unknown)}
    run = check_in_preview(POLICY, EC2_LAUNCH_TEMPLATE, props)
    assert run.violations == [("subject", IMDSV1.format("`optional`"))]
    assert (
        run.unknown
        == "string value at .metadataOptions.httpPutResponseHopLimit can't be known during preview"
    )
