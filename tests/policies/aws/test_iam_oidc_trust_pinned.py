"""iam-oidc-trust-pinned: a compliant baseline and single-property mutations."""

import json
from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.iam_oidc_trust_pinned import POLICY
from mlops_policies.resource_types import IAM_ROLE

ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/ABC123"
PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
SUBJECT = "system:serviceaccount:serving:inference"
STATEMENT: dict[str, Any] = {
    "Effect": "Allow",
    "Principal": {"Federated": PROVIDER},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {"StringEquals": {f"{ISSUER}:sub": SUBJECT, f"{ISSUER}:aud": "sts.amazonaws.com"}},
}
TRUSTS = f"statement 0 trusts OIDC provider `{ISSUER}`"
AUD = "the audience (sts.amazonaws.com)"
SUB = "the exact subject (system:serviceaccount:<namespace>:<name>)"


def _trust(**changes: Any) -> dict[str, Any]:
    statement = {k: v for k, v in {**STATEMENT, **changes}.items() if v is not None}
    return {"assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, IAM_ROLE, _trust()) == []


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            None,
            [
                f"{TRUSTS} without StringEquals on `:aud`; pin {AUD}",
                f"{TRUSTS} without StringEquals on `:sub`; pin {SUB}",
            ],
        ),
        (
            {"StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com"}},
            [f"{TRUSTS} without StringEquals on `:sub`; pin {SUB}"],
        ),
        (
            {"StringEquals": {f"{ISSUER}:sub": SUBJECT}},
            [f"{TRUSTS} without StringEquals on `:aud`; pin {AUD}"],
        ),
        (
            {
                "StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com"},
                "StringLike": {f"{ISSUER}:sub": "system:serviceaccount:*"},
            },
            [f"{TRUSTS} with only StringLike on `:sub`; use StringEquals with {SUB}"],
        ),
        (
            {
                "StringEquals": {
                    f"{ISSUER}:aud": "sts.amazonaws.com",
                    f"{ISSUER}:sub": "system:serviceaccount:serving:*",
                }
            },
            [f"{TRUSTS} with a wildcard or non-string value for `:sub`; pin {SUB}"],
        ),
        (
            {
                "StringEquals": {
                    f"{ISSUER}:aud": "sts.amazonaws.com",
                    f"{ISSUER}:sub": [SUBJECT, "system:serviceaccount:?:x"],
                }
            },
            [f"{TRUSTS} with a wildcard or non-string value for `:sub`; pin {SUB}"],
        ),
        # Condition keys are case-insensitive; several exact subjects are fine.
        (
            {
                "StringEquals": {
                    f"{ISSUER.upper()}:SUB": [SUBJECT, "system:serviceaccount:serving:batch"],
                    f"{ISSUER}:aud": "sts.amazonaws.com",
                }
            },
            [],
        ),
        # Pinned by StringEquals, a further StringLike only narrows (conditions are ANDed).
        ({**STATEMENT["Condition"], "StringLike": {f"{ISSUER}:sub": "system:serviceaccount:*"}}, []),
    ],
    ids=[
        "no-condition",
        "no-sub",
        "no-aud",
        "string-like-sub",
        "wildcard-sub",
        "wildcard-in-list",
        "case-and-list",
        "and-string-like",
    ],
)
def test_condition_mutations(
    check_aws_policy: Any, condition: dict[str, Any] | None, expected: list[str]
) -> None:
    assert check_aws_policy(POLICY, IAM_ROLE, _trust(Condition=condition)) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]}, []),
        ({"Action": "sts:*", "Condition": None}, 2),
        ({"Action": "sts:AssumeRole*", "Condition": None}, 2),
        ({"Action": "sts:AssumeRole", "Condition": None}, []),
        ({"Effect": "Deny", "Condition": None}, []),
        # Only OIDC providers: SAML and Cognito federation are other policies' business.
        ({"Principal": {"Federated": "arn:aws:iam::123456789012:saml-provider/corp"}, "Condition": None}, []),
        ({"Principal": {"Federated": "cognito-identity.amazonaws.com"}, "Condition": None}, []),
        (
            {
                "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/issuer with spaces"},
                "Condition": None,
            },
            [
                "statement 0 trusts OIDC provider (issuer not shown) without StringEquals on `:aud`; pin "
                + AUD,
                "statement 0 trusts OIDC provider (issuer not shown) without StringEquals on `:sub`; pin "
                + SUB,
            ],
        ),
    ],
    ids=[
        "tag-session-too",
        "sts-star",
        "prefix-wildcard",
        "plain-assume-role",
        "deny",
        "saml",
        "cognito",
        "odd-issuer",
    ],
)
def test_statement_mutations(
    check_aws_policy: Any, changes: dict[str, Any], expected: list[str] | int
) -> None:
    found = check_aws_policy(POLICY, IAM_ROLE, _trust(**changes))
    assert (len(found) if isinstance(expected, int) else found) == expected


def test_each_trusted_provider_is_checked(check_aws_policy: Any) -> None:
    other = "token.actions.githubusercontent.com"
    props = _trust(Principal={"Federated": [PROVIDER, f"arn:aws:iam::123456789012:oidc-provider/{other}"]})
    assert check_aws_policy(POLICY, IAM_ROLE, props) == [
        f"statement 0 trusts OIDC provider `{other}` without StringEquals on `:aud`; pin {AUD}",
        f"statement 0 trusts OIDC provider `{other}` without StringEquals on `:sub`; pin {SUB}",
    ]


def test_an_unknown_trust_policy_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, IAM_ROLE, {"assumeRolePolicy": unknown})
