"""k8s-read-only-root-filesystem: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.k8s_read_only_root_filesystem import POLICY

POD_TYPE = "kubernetes:core/v1:Pod"
BASELINE: dict[str, Any] = {
    "metadata": {"name": "train", "namespace": "ml"},
    "spec": {
        "containers": [{"name": "trainer", "image": "i", "securityContext": {"readOnlyRootFilesystem": True}}]
    },
}
WRITABLE = (
    'container "trainer" has a writable root filesystem: set '
    "securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it writes"
)


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, POD_TYPE, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.containers.0.securityContext.readOnlyRootFilesystem", False, [WRITABLE]),
        ("spec.containers.0.securityContext", ..., [WRITABLE]),
    ],
    ids=["writable", "default-writable"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, POD_TYPE, with_value(BASELINE, path, value)) == expected


def test_names_that_are_not_labels_are_not_echoed(check_policy: Any, with_value: Any) -> None:
    props = with_value(
        with_value(BASELINE, "spec.containers.0.securityContext", ...), "spec.containers.0.name", "x y"
    )
    assert check_policy(POLICY, POD_TYPE, props) == [WRITABLE.replace('"trainer"', "#0")]
