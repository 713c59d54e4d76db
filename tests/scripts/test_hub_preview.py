"""`hub preview`: shipped stacks and a foreign program preview offline; bad input gives one-line causes."""

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from scripts.hub.cli import app
from scripts.hub.offline.engine import SECRET_MARK, UNKNOWN_MARK
from scripts.hub.offline.project import SECRET_PLACEHOLDER
from scripts.hub.offline.resource_types import effective_tags
from stacks.outputs import StackOutput

REPO_ROOT = Path(__file__).resolve().parents[2]
FOREIGN = REPO_ROOT / "tests" / "fixtures" / "foreign_program"
REQUIRED_TAGS = ("environment", "team", "cost-center", "managed-by")
RESOURCE_FIELDS = {"urn", "type", "name", "parent", "dependencies", "provider", "inputs", "options"}
STACK_TAGS = {
    "dev": {"environment": "dev", "team": "ml-platform", "cost-center": "cc-1001", "managed-by": "pulumi"},
    "staging": {
        "environment": "staging",
        "team": "ml-platform",
        "cost-center": "cc-1001",
        "managed-by": "pulumi",
    },
    "prod": {"environment": "prod", "team": "ml-platform", "cost-center": "cc-2001", "managed-by": "pulumi"},
}


def hub(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def preview_plan(tmp_path: Path, *args: str) -> tuple[Result, dict[str, Any]]:
    out = tmp_path / "plan.json"
    result = hub("preview", *args, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return result, json.loads(out.read_text())


def assert_one_line_error(result: Result, *fragments: str) -> str:
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_shipped_stack_previews_to_a_valid_plan(tmp_path: Path, stack: str) -> None:
    result, plan = preview_plan(tmp_path, stack)
    assert plan["project"] == "mlops-hub"
    assert plan["stack"] == stack
    resources = plan["resources"]
    for resource in resources:
        assert resource.keys() >= RESOURCE_FIELDS
    urns = [r["urn"] for r in resources]
    assert len(urns) == len(set(urns)), "duplicate URNs"
    by_urn = {r["urn"]: r for r in resources}
    root = resources[0]
    assert root["type"] == "pulumi:pulumi:Stack" and root["parent"] is None
    for resource in resources[1:]:
        assert resource["parent"] in by_urn, f"{resource['name']} has no registered parent"
    # The tree shows every resource, nested by parent, and a count per type.
    assert f"Previewing update ({stack})" in result.stdout
    assert "├─ mlopshub:index:AwsNetwork" in result.stdout
    assert (
        "├─ mlopshub:index:EksGpuCluster" in result.stdout
        or "└─ mlopshub:index:EksGpuCluster" in result.stdout
    )
    assert f"+ {len(resources)} to create" in result.stdout
    counts = Counter(r["type"] for r in resources)
    assert f"aws:ec2/subnet:Subnet{' ' * 0}" in result.stdout and counts["aws:ec2/subnet:Subnet"] == 6
    assert plan["outputs"][StackOutput.ENVIRONMENT] == stack
    assert plan["outputs"][StackOutput.AWS_VPC_ID] == UNKNOWN_MARK
    # Issue 5: each cloud of the stack shows its model registry, MLflow and the ML workloads on its cluster and
    # serverless RAG.
    clouds = {"dev": ("Aws",), "staging": ("Aws", "Gcp"), "prod": ("Aws", "Azure", "Gcp")}[stack]
    for cloud in clouds:
        for component in (f"{cloud}ModelRegistry", f"{cloud}ServerlessRag", f"{cloud}WorkloadIdentity"):
            assert f"mlopshub:index:{component}" in result.stdout
    assert counts["mlopshub:index:MlflowTrackingServer"] == len(clouds)
    assert counts["mlopshub:index:MlWorkloads"] == len(clouds)
    for cloud in clouds:
        assert plan["outputs"][f"{cloud.lower()}ServingUrl"].startswith(
            f"http://{stack}-{cloud.lower()}-ml-serving"
        )
    assert plan["outputs"][StackOutput.AWS_IMAGE_REGISTRY] == (
        f"123456789012.dkr.ecr.{plan['config']['mlops-hub:aws']['region']}.amazonaws.com/{stack}-registry"
    )


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_taggable_resource_carries_the_cost_attribution_tags(tmp_path: Path, stack: str) -> None:
    _, plan = preview_plan(tmp_path, stack)
    by_urn = {r["urn"]: r for r in plan["resources"]}
    checked = 0
    for resource in plan["resources"]:
        tags = effective_tags(resource, by_urn.get(resource["provider"] or ""))
        if tags is None:
            continue
        checked += 1
        assert {k: tags.get(k) for k in REQUIRED_TAGS} == STACK_TAGS[stack], resource["urn"]
    assert checked >= 20


def test_stacks_get_the_providers_of_their_clouds(tmp_path: Path) -> None:
    _, plan = preview_plan(tmp_path, "prod")
    providers = {
        r["type"]: r["inputs"] for r in plan["resources"] if r["type"].startswith("pulumi:providers:")
    }
    assert providers["pulumi:providers:aws"]["region"] == "eu-central-1"
    assert providers["pulumi:providers:gcp"]["region"] == "europe-west4"
    assert providers["pulumi:providers:azure-native"]["location"] == "westeurope"
    aws_children = [r for r in plan["resources"] if r["type"].startswith("aws:")]
    aws_provider = next(r["urn"] for r in plan["resources"] if r["type"] == "pulumi:providers:aws")
    assert aws_children and all(r["provider"] == aws_provider for r in aws_children)


def test_prod_runs_one_nat_gateway_per_zone_and_dev_one(tmp_path: Path) -> None:
    _, dev = preview_plan(tmp_path, "dev")
    _, prod = preview_plan(tmp_path, "prod")
    nat = "aws:ec2/natGateway:NatGateway"
    assert sum(r["type"] == nat for r in dev["resources"]) == 1
    assert sum(r["type"] == nat for r in prod["resources"]) == 3


def test_json_flag_prints_the_plan_document() -> None:
    result = hub("preview", "dev", "--json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["stack"] == "dev" and plan["resources"]


def test_config_override_changes_the_plan(tmp_path: Path) -> None:
    _, plan = preview_plan(
        tmp_path, "dev", "--config", "aws.natGateways=per-az", "-c", "aws.vpcCidr=10.99.0.0/16"
    )
    subnets = [r["inputs"]["cidrBlock"] for r in plan["resources"] if r["type"] == "aws:ec2/subnet:Subnet"]
    assert all(cidr.startswith("10.99.") for cidr in subnets)
    assert sum(r["type"] == "aws:ec2/natGateway:NatGateway" for r in plan["resources"]) == 3
    assert plan["config"]["mlops-hub:aws"]["vpcCidr"] == "10.99.0.0/16"


def test_foreign_program_previews_with_secrets_redacted(tmp_path: Path) -> None:
    result, plan = preview_plan(tmp_path, "demo", "--program", str(FOREIGN))
    text = (tmp_path / "plan.json").read_text() + result.stdout + result.stderr
    # Neither the ciphertext in the stack file nor what the program read in its place leaks anywhere.
    assert "v1:" not in text and SECRET_PLACEHOLDER not in text
    assert plan["config"]["foreign-shop:dbPassword"] == SECRET_MARK
    assert plan["config"]["foreign-shop:settings"] == SECRET_MARK
    assert plan["config"]["foreign-shop:replicas"] == 3
    assert plan["config"]["foreign-shop:bucketPrefix"] == "shop"
    assert plan["outputs"]["password"] == SECRET_MARK
    parameter = next(r for r in plan["resources"] if r["type"] == "aws:ssm/parameter:Parameter")
    assert parameter["inputs"]["value"] == SECRET_MARK
    buckets = [r for r in plan["resources"] if r["type"] == "aws:s3/bucket:Bucket"]
    # The local module named them; a value computed by the cloud is marked unknown, not dropped.
    assert [b["name"] for b in buckets] == ["shop-replica-0", "shop-replica-1", "shop-replica-2"]
    assert all(b["inputs"]["bucket"] == UNKNOWN_MARK for b in buckets)
    assert plan["outputs"]["bucketIds"] == [UNKNOWN_MARK] * 3
    # Default provider (no explicit one): the engine would create it, so no provider is recorded.
    assert all(b["provider"] is None for b in buckets)
    # The offline invoke answered with the documentation account id.
    assert plan["outputs"]["accountId"] == "123456789012"
    assert buckets[0]["inputs"]["tags"] == {"owner": "shop-team", "account": "123456789012"}


def test_foreign_program_then_ours_in_one_process_do_not_leak_modules(tmp_path: Path) -> None:
    preview_plan(tmp_path, "demo", "--program", str(FOREIGN))
    _, plan = preview_plan(tmp_path, "dev")
    assert plan["project"] == "mlops-hub"
    assert "naming" not in sys.modules


def test_unanswerable_invoke_is_a_warning_not_silence(tmp_path: Path) -> None:
    program = _program(tmp_path, "import pulumi_aws as aws\naws.ec2.get_vpc_output(default=True)\n")
    result = hub("preview", "x", "--program", str(program))
    assert result.exit_code == 0, result.stderr
    assert "warning: invoke aws:ec2/getVpc:getVpc has no offline answer" in result.stderr


def _program(tmp_path: Path, body: str, project: str = "name: scratch\nruntime: python\n") -> Path:
    directory = tmp_path / "program"
    directory.mkdir(exist_ok=True)
    (directory / "Pulumi.yaml").write_text(project)
    (directory / "Pulumi.x.yaml").write_text("config: {}\n")
    (directory / "__main__.py").write_text(body)
    return directory


def test_unknown_stack_lists_the_stacks_that_exist() -> None:
    assert_one_line_error(hub("preview", "qa"), "unknown stack 'qa'", "stacks: dev, prod, staging")


def test_missing_pulumi_yaml_says_where_it_looked(tmp_path: Path) -> None:
    assert_one_line_error(
        hub("preview", "dev", "--program", str(tmp_path)), f"no Pulumi.yaml in {tmp_path.resolve()}"
    )


def test_malformed_project_yaml_names_file_and_line(tmp_path: Path) -> None:
    program = _program(tmp_path, "", project="name: scratch\nruntime: python\nconfig:\n  a: [1, 2\n  b: 3\n")
    assert_one_line_error(
        hub("preview", "x", "--program", str(program)), f"malformed YAML at {program / 'Pulumi.yaml'}:5:"
    )


def test_malformed_stack_yaml_names_file_and_line(tmp_path: Path) -> None:
    program = _program(tmp_path, "")
    (program / "Pulumi.x.yaml").write_text("config:\n  scratch:a: 1\n   bad indent: [\n")
    assert_one_line_error(hub("preview", "x", "--program", str(program)), f"{program / 'Pulumi.x.yaml'}:3:")


def test_exception_in_program_names_message_and_program_frame(tmp_path: Path) -> None:
    program = _program(
        tmp_path, "import pulumi\n\n\ndef build():\n    raise RuntimeError('no quota for p4d')\n\n\nbuild()\n"
    )
    assert_one_line_error(
        hub("preview", "x", "--program", str(program)),
        "program failed: RuntimeError: no quota for p4d",
        "(__main__.py:5 in build)",
    )


def test_missing_required_resource_argument_is_reported(tmp_path: Path) -> None:
    program = _program(tmp_path, "import pulumi_aws as aws\naws.ec2.Subnet('s', cidr_block='10.0.0.0/24')\n")
    assert_one_line_error(hub("preview", "x", "--program", str(program)), "vpc_id", "__main__.py:2")


def test_duplicate_urns_are_an_error_as_in_the_engine(tmp_path: Path) -> None:
    program = _program(tmp_path, "import pulumi_aws as aws\nfor _ in range(2):\n    aws.s3.Bucket('logs')\n")
    assert_one_line_error(
        hub("preview", "x", "--program", str(program)),
        "duplicate resource URN urn:pulumi:x::scratch::aws:s3/bucket:Bucket::logs",
    )


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("aws.region=us-east-1", "mlops-hub:aws.region = 'us-east-1' is outside residency zone 'eu'"),
        ("aws.nodePools[0].minNodes=3", "minNodes (3) is greater than maxNodes (2)"),
        ('clouds=["aws","ibm"]', "mlops-hub:clouds[1] = \"ibm\": Input should be 'aws', 'azure' or 'gcp'"),
        ('clouds=["aws","gcp"]', "mlops-hub:gcp is required because clouds includes gcp"),
        ('aws={"region": ', "looks like JSON but is not"),
        ("aws.nodePools[0]=big", 'mlops-hub:aws.nodePools[0] must be an object, got "big"'),
        ("teem=x", "unknown config key mlops-hub:teem"),
        ("nonsense", "must be KEY=VALUE"),
    ],
)
def test_bad_config_gives_a_one_line_cause(override: str, fragment: str) -> None:
    assert_one_line_error(hub("preview", "dev", "--config", override), fragment)


def test_missing_required_key_is_caught_like_the_engine_does(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "stacks", project / "stacks")
    shutil.copy(REPO_ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    stack_file = project / "stacks" / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("  mlops-hub:team: ml-platform\n", ""))
    assert_one_line_error(
        hub("preview", "dev", "--program", str(project)),
        "stack 'dev' is missing required config mlops-hub:team",
    )


def test_declared_type_is_enforced(tmp_path: Path) -> None:
    program = _program(
        tmp_path, "", project="name: scratch\nruntime: python\nconfig:\n  n:\n    type: integer\n"
    )
    (program / "Pulumi.x.yaml").write_text("config:\n  scratch:n: many\n")
    assert_one_line_error(
        hub("preview", "x", "--program", str(program)),
        "config scratch:n in Pulumi.x.yaml must be of type integer",
    )


def test_console_script_exit_codes_and_a_single_stderr_line(tmp_path: Path) -> None:
    hub_script = Path(sys.executable).parent / "hub"
    ok = subprocess.run(
        [hub_script, "preview", "dev"], capture_output=True, text=True, check=False, cwd=REPO_ROOT
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([hub_script, "preview", "qa"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    # A failing program leaves futures holding its exception; nothing of them may reach stderr.
    program = _program(tmp_path, "import pulumi_aws as aws\nfor _ in range(2):\n    aws.s3.Bucket('logs')\n")
    duplicate = subprocess.run(
        [hub_script, "preview", "x", "--program", program], capture_output=True, text=True, check=False
    )
    assert duplicate.returncode == 2
    assert duplicate.stderr.splitlines() == [duplicate.stderr.strip()]
    assert duplicate.stderr.startswith("error: duplicate resource URN")


def test_prod_shows_all_three_clusters_with_their_addons(tmp_path: Path) -> None:
    _, plan = preview_plan(tmp_path, "prod")
    types = Counter(r["type"] for r in plan["resources"])
    for cluster in ("EksGpuCluster", "AksGpuCluster", "GkeGpuCluster"):
        assert types[f"mlopshub:index:{cluster}"] == 1
    assert types["mlopshub:index:ClusterAddons"] == 3
    charts = Counter(
        r["inputs"]["chart"] for r in plan["resources"] if r["type"] == "kubernetes:helm.sh/v3:Release"
    )
    # GKE installs its own drivers; Karpenter is EKS's autoscaler.
    assert charts == {
        "gpu-operator": 2,
        "dcgm-exporter": 3,
        "kuberay-operator": 3,
        "opencost": 3,
        "oci://public.ecr.aws/karpenter/karpenter": 1,
    }
    outputs = plan["outputs"]
    for cloud in ("aws", "azure", "gcp"):
        assert outputs[f"{cloud}Kubeconfig"] == SECRET_MARK
        assert outputs[f"{cloud}GpuPools"] == ["gpu"]
