"""Behaviour of GcpWorkloadIdentity: its role rules, and what it registers under the offline engine's mocks."""

from collections.abc import Callable
from typing import Any, Protocol, cast

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pytest

from components.identity.gcp_workload_identity import (
    TYPE_TOKEN,
    GcpWorkloadIdentity,
    GcpWorkloadIdentityArgs,
    role_problem,
    workload_identity_member,
)
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

# tags_of imports pulumi_gcp's modules whole, which warn about their own deprecated aliases.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_gcp.*")

NAME = "trainer-wi"
PROJECT = "mlops-hub-test"
REGION = "europe-west4"
NAMESPACE = "training"
SERVICE_ACCOUNT = "trainer"
ROLES = ["roles/storage.objectUser", "roles/aiplatform.user", f"projects/{PROJECT}/roles/datasetReader"]
DEFAULT_LABELS = {
    "environment": "test",
    "team": "ml-platform",
    "cost-center": "cc-42",
    "managed-by": "pulumi",
}

STACK = "pulumi:pulumi:Stack"
GCP_PROVIDER = "pulumi:providers:gcp"
K8S_PROVIDER = "pulumi:providers:kubernetes"
ACCOUNT = "gcp:serviceaccount/account:Account"
ACCOUNT_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
KSA = "kubernetes:core/v1:ServiceAccount"


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


def identity_program(*names: str, with_kubernetes: bool = True, **overrides: Any) -> Callable[[], None]:
    """A program body: explicit gcp and Kubernetes providers, and one identity per name."""

    def body() -> None:
        providers: list[pulumi.ProviderResource] = [
            gcp.Provider("p", project=PROJECT, region=REGION, default_labels=DEFAULT_LABELS)
        ]
        if with_kubernetes:
            providers.append(k8s.Provider("k", kubeconfig="{}"))
        for name in names or (NAME,):
            args = cast(
                GcpWorkloadIdentityArgs,
                {
                    "project": PROJECT,
                    "namespace": NAMESPACE,
                    "service_account": SERVICE_ACCOUNT,
                    "roles": ROLES,
                    **overrides,
                },
            )
            GcpWorkloadIdentity(name, args, opts=pulumi.ResourceOptions(providers=providers))

    return body


@pytest.fixture
def identity(pulumi_run: Recorder) -> Recorder:
    """A recorded run of the default identity."""
    pulumi_run.run(identity_program())
    return pulumi_run


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def depends_on(resource: RecordedResource, prop: str) -> list[str]:
    """Logical names of the resources property `prop` depends on, sorted."""
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


# Role rules and member, no mocks.


def test_member_names_one_kubernetes_service_account_of_the_project_pool() -> None:
    assert (
        workload_identity_member(PROJECT, NAMESPACE, SERVICE_ACCOUNT)
        == "serviceAccount:mlops-hub-test.svc.id.goog[training/trainer]"
    )


@pytest.mark.parametrize(
    "role",
    [
        "roles/storage.objectUser",
        "roles/storage.objectViewer",
        "roles/aiplatform.user",
        "roles/artifactregistry.reader",
        "roles/bigquery.dataViewer",
        f"projects/{PROJECT}/roles/datasetReader",
        "organizations/123456789/roles/mlReader",
    ],
)
def test_narrow_roles_are_allowed(role: str) -> None:
    assert role_problem(role) is None


@pytest.mark.parametrize(
    ("role", "problem"),
    [
        ("roles/owner", "is a basic role"),
        ("roles/editor", "is a basic role"),
        ("roles/viewer", "is a basic role"),
        ("roles/storage.admin", "is an administrator role"),
        ("roles/container.admin", "is an administrator role"),
        ("roles/storage.objectAdmin", "is an administrator role"),
        ("roles/resourcemanager.projectIamAdmin", "is an administrator role"),
        ("roles/iam.serviceAccountTokenCreator", "lets the workload act as other service accounts"),
        ("roles/iam.serviceAccountUser", "lets the workload act as other service accounts"),
        ("roles/iam.workloadIdentityUser", "lets the workload act as other service accounts"),
        ("roles/iam.serviceAccountOpenIdTokenCreator", "lets the workload act as other service accounts"),
        ("owner", "is not a role name"),
        ("roles/", "is not a role name"),
        ("projects/x/roles/reader", "is not a role name"),
        ("arn:aws:iam::aws:policy/AdministratorAccess", "is not a role name"),
    ],
)
def test_broad_and_impersonation_roles_are_refused(role: str, problem: str) -> None:
    found = role_problem(role)

    assert found is not None and found.startswith(problem)


# What the component registers (preview, offline mocks).


def test_children_parenting_and_providers(identity: Recorder) -> None:
    root = component(identity)
    children = identity.children_of(root)
    gcp_provider = identity.one(GCP_PROVIDER)
    k8s_provider = identity.one(K8S_PROVIDER)

    assert root.type == TYPE_TOKEN == "mlopshub:index:GcpWorkloadIdentity"
    assert children == [
        r for r in identity.resources if r.type not in {STACK, GCP_PROVIDER, K8S_PROVIDER, TYPE_TOKEN}
    ]
    assert sorted(r.name for r in children) == sorted(
        [
            f"{NAME}-gsa",
            f"{NAME}-workload-identity-user",
            f"{NAME}-grant-storage-objectuser",
            f"{NAME}-grant-aiplatform-user",
            f"{NAME}-grant-projects-{PROJECT}-roles-datasetreader",
            f"{NAME}-ksa",
        ]
    )
    assert all(r.provider == gcp_provider.urn for r in children if r.type.startswith("gcp:"))
    assert identity.one(KSA).provider == k8s_provider.urn


def test_google_service_account(identity: Recorder) -> None:
    assert identity.one(ACCOUNT).inputs == {
        "project": PROJECT,
        "accountId": NAME,
        "displayName": f"Workload {NAMESPACE}/{SERVICE_ACCOUNT}",
        "description": f"Used by Kubernetes service account {NAMESPACE}/{SERVICE_ACCOUNT} via Workload Identity",
    }


def test_only_the_one_kubernetes_service_account_may_impersonate_it(identity: Recorder) -> None:
    binding = identity.one(ACCOUNT_MEMBER)

    assert binding.inputs == {
        "serviceAccountId": "[unknown]",
        "role": "roles/iam.workloadIdentityUser",
        "member": "serviceAccount:mlops-hub-test.svc.id.goog[training/trainer]",
    }
    # On the GSA itself, not the project: a project-level grant would open every GSA of the project.
    assert depends_on(binding, "serviceAccountId") == [f"{NAME}-gsa"]
    assert "roles/iam.workloadIdentityUser" not in {
        g.inputs["role"] for g in identity.of_type(PROJECT_MEMBER)
    }


def test_project_roles_are_exactly_those_given(identity: Recorder) -> None:
    grants = identity.of_type(PROJECT_MEMBER)

    assert sorted(g.inputs["role"] for g in grants) == sorted(ROLES)
    assert all(g.inputs["project"] == PROJECT for g in grants)
    assert all(
        g.inputs["member"] == "[unknown]" and depends_on(g, "member") == [f"{NAME}-gsa"] for g in grants
    )


def test_no_roles_means_no_grants(pulumi_run: Recorder) -> None:
    pulumi_run.run(identity_program(roles=[]))

    assert pulumi_run.of_type(PROJECT_MEMBER) == []
    assert len(pulumi_run.of_type(ACCOUNT_MEMBER)) == 1


def test_kubernetes_service_account_is_annotated_with_the_gsa(identity: Recorder) -> None:
    account = identity.one(KSA)

    assert account.inputs == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": SERVICE_ACCOUNT,
            "namespace": NAMESPACE,
            "annotations": {"iam.gke.io/gcp-service-account": "[unknown]"},
            "labels": {"app.kubernetes.io/managed-by": "pulumi"},
        },
        "automountServiceAccountToken": False,
    }
    assert depends_on(account, "metadata") == [f"{NAME}-gsa"]


def test_overrides_of_account_id_and_token_mount(pulumi_run: Recorder) -> None:
    pulumi_run.run(identity_program(account_id="ml-trainer", automount_service_account_token=True))

    assert pulumi_run.one(ACCOUNT).inputs["accountId"] == "ml-trainer"
    assert pulumi_run.one(KSA).inputs["automountServiceAccountToken"] is True


def test_outputs(identity: Recorder) -> None:
    # The email is assigned by GCP; the Kubernetes names are the ones given.
    assert component(identity).outputs == {
        "email": "[unknown]",
        "service_account_name": SERVICE_ACCOUNT,
        "namespace": NAMESPACE,
    }


def test_no_child_takes_labels(identity: Recorder) -> None:
    # Service accounts and IAM members have no labels in pulumi-gcp 10.2; Kubernetes objects are not GCP's.
    assert [
        r.name for r in identity.children_of(component(identity)) if identity.tags_of(r) is not None
    ] == []


def test_two_identities_in_one_program_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(identity_program("trainer-a", "trainer-b"))
    urns = [r.urn for r in pulumi_run.resources]

    assert len(urns) == len(set(urns))
    assert sorted(a.inputs["accountId"] for a in pulumi_run.of_type(ACCOUNT)) == ["trainer-a", "trainer-b"]
    names_a = {r.name for r in pulumi_run.children_of(component(pulumi_run, "trainer-a"))}
    names_b = {r.name for r in pulumi_run.children_of(component(pulumi_run, "trainer-b"))}
    assert len(names_a) == len(names_b) == 6
    assert names_a.isdisjoint(names_b)


BAD_ARGS = [
    pytest.param({"roles": ["roles/owner"]}, "role 'roles/owner' is a basic role", id="owner"),
    pytest.param({"roles": ["roles/editor"]}, "role 'roles/editor' is a basic role", id="editor"),
    pytest.param({"roles": ["roles/viewer"]}, "role 'roles/viewer' is a basic role", id="viewer"),
    pytest.param(
        {"roles": ["roles/storage.admin"]}, "role 'roles/storage.admin' is an administrator role", id="admin"
    ),
    pytest.param(
        {"roles": ["roles/iam.serviceAccountTokenCreator"]},
        "role 'roles/iam.serviceAccountTokenCreator' lets the workload act as other service accounts",
        id="token-creator",
    ),
    pytest.param(
        {"roles": ["roles/iam.serviceAccountUser"]},
        "role 'roles/iam.serviceAccountUser' lets the workload act as other service accounts",
        id="sa-user",
    ),
    pytest.param(
        {"roles": ["roles/storage.objectUser", "roles/storage.objectUser"]},
        "role 'roles/storage.objectUser' is listed twice",
        id="duplicate",
    ),
    pytest.param(
        {"namespace": "Training"}, "namespace 'Training' is not a Kubernetes namespace name", id="namespace"
    ),
    pytest.param(
        {"service_account": "trainer_sa"},
        "service_account 'trainer_sa' is not a Kubernetes object name",
        id="ksa",
    ),
    pytest.param({"account_id": "ml"}, "account_id 'ml' must be 6 to 30", id="account-id"),
]


@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_the_run_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(identity_program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert str(failure.value.cause).startswith(f"GcpWorkloadIdentity {NAME}: ")
    assert bad_value in str(failure.value.cause)
    assert [
        (r.type, r.name) for r in failure.value.resources if r.type not in {STACK, GCP_PROVIDER, K8S_PROVIDER}
    ] == [(TYPE_TOKEN, NAME)]


def test_a_name_that_cannot_be_an_account_id_asks_for_one(pulumi_run: Recorder) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(identity_program("wi"))

    assert str(failure.value.cause).startswith("GcpWorkloadIdentity wi: account_id 'wi' must be 6 to 30")
    assert "pass account_id" in str(failure.value.cause)


def test_missing_kubernetes_provider_is_refused_before_any_child(pulumi_run: Recorder) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(identity_program(with_kubernetes=False))

    assert str(failure.value.cause) == (
        f"GcpWorkloadIdentity {NAME}: pass the cluster's Kubernetes provider in opts "
        "(providers=[..., cluster.kubernetes_provider])"
    )
    assert [r.type for r in failure.value.resources if r.type not in {STACK, GCP_PROVIDER}] == [TYPE_TOKEN]
