"""Behaviour of AzureWorkloadIdentity: subject pinning, role refusals, and what it registers under the mocks."""

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as k8s
import pytest

from components.identity.azure_workload_identity import (
    CLIENT_ID_ANNOTATION,
    FORBIDDEN_ROLES,
    TOKEN_EXCHANGE_AUDIENCE,
    TYPE_TOKEN,
    USE_LABEL,
    AzureWorkloadIdentity,
    AzureWorkloadIdentityArgs,
    check_scope,
    federated_subject,
    role_guid,
)
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

NAME = "trainer"
LOCATION = "westeurope"
RESOURCE_GROUP = "rg-ml"
ISSUER = "https://westeurope.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000000/1111/"
TAGS = {"environment": "test", "team": "ml", "cost-center": "cc-42", "managed-by": "pulumi"}
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
"""The subscription the offline getClientConfig answer reports."""
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
"""Storage Blob Data Reader."""
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
STORAGE_SCOPE = "/subscriptions/1234/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/data"
REGISTRY_SCOPE = (
    "/subscriptions/1234/resourceGroups/rg-ml/providers/Microsoft.ContainerRegistry/registries/acr"
)
FULL_ACR_PULL = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"

STACK = "pulumi:pulumi:Stack"
PROVIDERS = {"pulumi:providers:azure-native", "pulumi:providers:kubernetes"}
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
FEDERATION = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...
    def tags_of(self, resource: RecordedResource) -> dict[str, Any] | None: ...


def identity_program(*names: str, **overrides: Any) -> Callable[[], None]:
    """A program body: explicit azure-native and Kubernetes providers, and one identity per name."""

    def body() -> None:
        azure = azure_native.Provider("p", location=LOCATION)
        cluster = k8s.Provider("k", kubeconfig="{}")
        for name in names or (NAME,):
            args = cast(
                AzureWorkloadIdentityArgs,
                {
                    "resource_group_name": RESOURCE_GROUP,
                    "location": LOCATION,
                    "oidc_issuer_url": ISSUER,
                    "namespace": "training",
                    "service_account": "trainer",
                    "role_assignments": [
                        {"role_definition_id": BLOB_READER, "scope": STORAGE_SCOPE},
                        {"role_definition_id": FULL_ACR_PULL, "scope": REGISTRY_SCOPE},
                    ],
                    "tags": TAGS,
                    **overrides,
                },
            )
            AzureWorkloadIdentity(name, args, opts=pulumi.ResourceOptions(providers=[azure, cluster]))

    return body


_RECORDED: dict[str, Recorder] = {}
"""Runs shared by the tests that only read them: each run of the SDK costs a third of a second."""


@pytest.fixture
def identity(pulumi_run: Recorder) -> Recorder:
    """A recorded run of the default identity: blob reader on a storage account, AcrPull on a registry."""
    if NAME not in _RECORDED:
        pulumi_run.run(identity_program())
        _RECORDED[NAME] = pulumi_run
    return _RECORDED[NAME]


@pytest.fixture
def collect_failed_runs() -> Iterator[None]:
    """Collect what a failed run left behind at a known point (see test_aws_network.py for why)."""
    yield
    gc.collect()


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def children(recorder: Recorder, name: str = NAME) -> list[RecordedResource]:
    return recorder.children_of(component(recorder, name))


def depends_on(resource: RecordedResource, prop: str) -> list[str]:
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


# Pure helpers, no mocks.


def test_subject_is_exactly_the_service_account() -> None:
    assert federated_subject("training", "trainer") == "system:serviceaccount:training:trainer"


@pytest.mark.parametrize(
    "given",
    [
        ACR_PULL,
        ACR_PULL.upper(),
        FULL_ACR_PULL,
        f"/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}",
        f"/subscriptions/{SUBSCRIPTION}/providers/microsoft.authorization/roledefinitions/{ACR_PULL}",
    ],
)
def test_role_ids_in_every_spelling_are_accepted(given: str) -> None:
    assert role_guid("X", given) == ACR_PULL


@pytest.mark.parametrize("guid", sorted(FORBIDDEN_ROLES))
@pytest.mark.parametrize(
    "spelling",
    [
        "{guid}",
        "{upper}",
        "/subscriptions/" + SUBSCRIPTION + "/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        "/providers/Microsoft.Authorization/roleDefinitions/{upper}",
    ],
    ids=["guid", "upper", "subscription-id", "tenant-id"],
)
def test_administrative_roles_are_refused_in_every_spelling(guid: str, spelling: str) -> None:
    with pytest.raises(ValueError, match=f"^X: role {FORBIDDEN_ROLES[guid]} \\({guid}\\) is not granted"):
        role_guid("X", spelling.format(guid=guid, upper=guid.upper()))


@pytest.mark.parametrize(
    "given", ["Owner", "", "acrpull", f"{ACR_PULL}/extra", f"/roleDefinitions/{ACR_PULL}"]
)
def test_malformed_role_ids_are_refused(given: str) -> None:
    with pytest.raises(ValueError, match="is neither a role GUID nor a role definition id"):
        role_guid("X", given)


@pytest.mark.parametrize(
    "scope",
    [
        "/",
        "",
        f"/subscriptions/{SUBSCRIPTION}",
        f"/subscriptions/{SUBSCRIPTION}/",
        f"/SUBSCRIPTIONS/{SUBSCRIPTION}",
        "/providers/Microsoft.Management/managementGroups/root",
    ],
)
def test_subscription_and_broader_scopes_are_refused(scope: str) -> None:
    with pytest.raises(ValueError, match="is a whole subscription or broader"):
        check_scope("X", scope)


@pytest.mark.parametrize("scope", [f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg", STORAGE_SCOPE])
def test_resource_group_and_resource_scopes_are_accepted(scope: str) -> None:
    assert check_scope("X", scope) == scope


# What the component registers (preview, offline mocks).


def test_resource_counts(identity: Recorder) -> None:
    assert Counter(r.type for r in children(identity)) == {
        IDENTITY: 1,
        FEDERATION: 1,
        ROLE_ASSIGNMENT: 2,
        SERVICE_ACCOUNT: 1,
    }


def test_identity_carries_the_tags(identity: Recorder) -> None:
    found = identity.one(IDENTITY)

    assert found.inputs == {"resourceGroupName": RESOURCE_GROUP, "location": LOCATION, "tags": TAGS}
    tags = {r.name: identity.tags_of(r) for r in children(identity)}
    assert {name: value for name, value in tags.items() if value is not None} == {f"{NAME}-identity": TAGS}


def test_federation_pins_the_issuer_subject_and_audience(identity: Recorder) -> None:
    federation = identity.one(FEDERATION)

    assert federation.inputs == {
        "resourceGroupName": RESOURCE_GROUP,
        "resourceName": "[unknown]",
        "issuer": ISSUER,
        "subject": "system:serviceaccount:training:trainer",
        "audiences": [TOKEN_EXCHANGE_AUDIENCE],
    }
    assert TOKEN_EXCHANGE_AUDIENCE == "api://AzureADTokenExchange"
    assert depends_on(federation, "resourceName") == [f"{NAME}-identity"]


def test_role_assignments_are_exactly_those_given(identity: Recorder) -> None:
    grants = {r.name: r for r in identity.of_type(ROLE_ASSIGNMENT)}

    assert {name: grant.inputs for name, grant in grants.items()} == {
        f"{NAME}-role-0": {
            "principalId": "[unknown]",
            "principalType": "ServicePrincipal",
            "roleDefinitionId": (
                f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{BLOB_READER}"
            ),
            "scope": STORAGE_SCOPE,
        },
        f"{NAME}-role-1": {
            "principalId": "[unknown]",
            "principalType": "ServicePrincipal",
            "roleDefinitionId": FULL_ACR_PULL,
            "scope": REGISTRY_SCOPE,
        },
    }
    assert all(depends_on(grant, "principalId") == [f"{NAME}-identity"] for grant in grants.values())


def test_service_account_is_annotated_and_labelled(identity: Recorder) -> None:
    account = identity.one(SERVICE_ACCOUNT)

    assert account.inputs == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": "trainer",
            "namespace": "training",
            "annotations": {CLIENT_ID_ANNOTATION: "[unknown]"},
            "labels": {USE_LABEL: "true", "app.kubernetes.io/managed-by": "pulumi"},
        },
        "automountServiceAccountToken": False,
    }
    assert depends_on(account, "metadata") == [f"{NAME}-identity"]


def test_children_parented_and_on_the_providers_from_opts(identity: Recorder) -> None:
    azure = identity.one("pulumi:providers:azure-native")
    cluster = identity.one("pulumi:providers:kubernetes")
    others = [r for r in identity.resources if r.type not in {STACK, TYPE_TOKEN, *PROVIDERS}]

    assert component(identity).type == TYPE_TOKEN == "mlopshub:index:AzureWorkloadIdentity"
    assert children(identity) == others
    assert all(r.name.startswith(f"{NAME}-") for r in others)
    for resource in others:
        expected = cluster if resource.type == SERVICE_ACCOUNT else azure
        assert resource.provider == expected.urn, resource.name


def test_outputs(identity: Recorder) -> None:
    assert component(identity).outputs == {
        "client_id": "[unknown]",
        "principal_id": "[unknown]",
        "service_account_name": "trainer",
        "namespace": "training",
    }


def test_no_roles_means_no_assignments(pulumi_run: Recorder) -> None:
    pulumi_run.run(identity_program(role_assignments=[], automount_service_account_token=True))

    assert pulumi_run.of_type(ROLE_ASSIGNMENT) == []
    assert pulumi_run.one(SERVICE_ACCOUNT).inputs["automountServiceAccountToken"] is True


def test_two_identities_in_one_program_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(identity_program("a", "b"))
    urns = [r.urn for r in pulumi_run.resources]

    assert len(urns) == len(set(urns))
    assert {r.name for r in children(pulumi_run, "a")} == {
        "a-identity",
        "a-federation",
        "a-role-0",
        "a-role-1",
        "a-sa",
    }


@pytest.mark.usefixtures("collect_failed_runs")
def test_a_broad_scope_given_as_an_output_fails_the_deployment(pulumi_run: Recorder) -> None:
    def body() -> None:
        subscription = pulumi.Output.from_input(f"/subscriptions/{SUBSCRIPTION}")
        identity_program(role_assignments=[{"role_definition_id": ACR_PULL, "scope": subscription}])()

    error = ""
    try:
        pulumi_run.run(body)
    except ProgramError as failure:
        error = str(failure.cause)

    assert (
        f"AzureWorkloadIdentity {NAME}: scope '/subscriptions/{SUBSCRIPTION}' is a whole subscription"
        in error
    )


BAD_ARGS = [
    *(
        pytest.param(
            {"role_assignments": [{"role_definition_id": guid, "scope": STORAGE_SCOPE}]},
            f"role {role} ({guid})",
            id=role,
        )
        for guid, role in FORBIDDEN_ROLES.items()
    ),
    pytest.param(
        {"role_assignments": [{"role_definition_id": ACR_PULL, "scope": f"/subscriptions/{SUBSCRIPTION}"}]},
        "whole subscription",
        id="subscription-scope",
    ),
    pytest.param({"namespace": "Training"}, "namespace 'Training'", id="namespace"),
    pytest.param({"service_account": "trainer_sa"}, "service_account 'trainer_sa'", id="service-account"),
]


@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_the_run_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(identity_program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert str(failure.value.cause).startswith(f"AzureWorkloadIdentity {NAME}: ")
    assert bad_value in str(failure.value.cause)
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, *PROVIDERS}] == [
        (TYPE_TOKEN, NAME)
    ]
