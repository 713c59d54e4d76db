"""k8s-capabilities-dropped: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.k8s_capabilities_dropped import POLICY

STATEFULSET = "kubernetes:apps/v1:StatefulSet"
CAPS = "spec.template.spec.containers.0.securityContext.capabilities"
BASELINE: dict[str, Any] = {
    "metadata": {"namespace": "ml"},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {"name": "db", "image": "i", "securityContext": {"capabilities": {"drop": ["ALL"]}}}
                ]
            }
        }
    },
}
KEPT = (
    'container "db" keeps the runtime\'s default capabilities (NET_RAW among them): '
    "set securityContext.capabilities.drop: [ALL]"
)


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, STATEFULSET, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (f"{CAPS}.drop", ["NET_RAW"], [KEPT]),
        (f"{CAPS}", ..., [KEPT]),
        (f"{CAPS}.add", ["NET_BIND_SERVICE"], []),
        (
            f"{CAPS}.add",
            ["CAP_SYS_ADMIN", "NET_BIND_SERVICE"],
            ['container "db" adds capabilities `CAP_SYS_ADMIN`: only NET_BIND_SERVICE may be added back'],
        ),
        (f"{CAPS}.drop", ["all"], []),
    ],
    ids=["drop-one", "unset", "add-bind", "add-sys-admin", "lowercase-all"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, STATEFULSET, with_value(BASELINE, path, value)) == expected
