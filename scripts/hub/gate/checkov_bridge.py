"""checkov over an offline plan: convert the plan into what checkov reads, run it, attribute findings to URNs.

checkov has no Pulumi support, so the plan is rewritten per provider family:

- aws:* and gcp:* (bridged from Terraform) → a Terraform plan JSON (`terraform_plan` framework), types
  from tf_types, inputs snake_cased with blocks as lists of one object, the way `terraform show -json`
  writes them;
- azure-native:* (mirrors ARM) → an ARM template (`arm`), types and apiVersions from arm_types,
  properties re-nested under `properties`;
- kubernetes:* objects → multi-document YAML (`kubernetes`), one scan per cluster, with the Pulumi
  name where a name is autonamed (Helm releases cannot be scanned from a plan: reported as skipped);
- the Dockerfiles the caller names (`dockerfile`).

Each shape rule here exists because getting it wrong made checkov pass a resource silently (exit 0,
no error): see shared/notes/checkov-bridge.md. So every scan is guarded: checkov must report exactly as
many resources as were converted, and a check that crashed ("Failed to run check") fails the scan.

checkov's pins clash with pulumi's, so it lives in its own environment (.venv-checkov, `make
checkov-env`) and runs as a subprocess: by default one long-lived worker (this file, run by checkov's
interpreter) that imports checkov once and answers every scan of the process; `CHECKOV_BRIDGE_MODE=cli`
runs one `python -m checkov.main` per scan instead (same results; ~3-5 s each, for debugging).
"""

import atexit
import contextlib
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import yaml

from scripts.hub.gate import arm_types, tf_types

REPO_ROOT: Final = Path(__file__).resolve().parents[3]
CHECKOV_ENV: Final = REPO_ROOT / ".venv-checkov"
MAKE_TARGET: Final = "make checkov-env"
UNKNOWN_MARK: Final = "[unknown]"
"""The plan's stand-in for values only the cloud knows: scripts.hub.offline.engine.UNKNOWN_MARK, copied
because this file also runs inside checkov's environment, which has no pulumi."""

TERRAFORM_PLAN: Final = "terraform_plan"
ARM: Final = "arm"
KUBERNETES: Final = "kubernetes"
DOCKERFILE: Final = "dockerfile"
FRAMEWORKS: Final = (TERRAFORM_PLAN, ARM, KUBERNETES, DOCKERFILE)

_TERRAFORM_VERSION = "1.9.8"  # any truthy value: without one checkov scans nothing and exits 0
_ARM_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
_SCAN_TIMEOUT_S = 300.0
_FAILED_CHECK = "Failed to run check"

# Inputs that are maps in Terraform (JSON objects in a plan): kept as objects with their keys verbatim.
# Any other object whose keys are not all lowerCamel property names is a map too ("ssh-keys", "Name");
# every remaining object is a nested block, which a plan writes as a list of one object. Names that are
# maps for one type and blocks for another (`settings`, `metadata`, `environment`) are left to that rule.
_TF_MAP_KEYS: Final = frozenset({
    "tags", "tagsAll", "labels", "resourceLabels", "effectiveLabels", "terraformLabels", "userLabels",
    "annotations", "parameters", "variables", "environmentVariables",
})  # fmt: skip
# Attributes Terraform types as JSON strings (policy documents); given as objects, every IAM check passes.
_TF_JSON_STRING_KEYS: Final = frozenset({
    "policy", "assume_role_policy", "access_policies", "access_policy", "policy_document",
    "inline_policy", "container_definitions", "container_properties", "policy_data",
    "dashboard_properties", "resource_policy",
})  # fmt: skip
# Top-level ARM resource keys; every other azure-native input belongs under `properties`.
_ARM_TOP_LEVEL: Final = frozenset({
    "location", "tags", "sku", "kind", "identity", "zones", "plan", "extendedLocation", "managedBy",
})  # fmt: skip
_ARM_DROPPED: Final = frozenset({"resourceGroupName", "subscriptionId"})
# Workload kinds whose pod template checkov scans as a Pod of its own (checkov.kubernetes.kubernetes_utils).
_POD_TEMPLATE_KINDS: Final = frozenset({
    "Deployment", "DeploymentConfig", "DaemonSet", "Job", "ReplicaSet", "ReplicationController", "StatefulSet",
})  # fmt: skip
# pulumi_kubernetes tokens that are not Kubernetes objects, or whose objects a plan cannot show.
_KUBERNETES_NOT_OBJECTS: Final = (
    "kubernetes:helm.sh/",
    "kubernetes:yaml:",
    "kubernetes:yaml/",
    "kubernetes:kustomize:",
    "kubernetes:kustomize/",
)
_KUBERNETES_LIST_KIND = re.compile(r"List$")


@dataclass(frozen=True, slots=True)
class CheckovFinding:
    """One failed checkov check, attributed to the plan resource it is about."""

    check_id: str
    """e.g. CKV_AWS_19."""
    check_name: str
    urn: str
    """The plan resource it belongs to (a pod template's findings belong to its workload); for
    Dockerfile findings, the Dockerfile's path as given."""
    resource_type: str
    """The Pulumi type token (`Dockerfile` for Dockerfiles)."""
    severity: str | None
    """checkov's severity where it knows one (None offline, without a platform key)."""
    guideline: str | None
    framework: str
    """terraform_plan | arm | kubernetes | dockerfile."""


class CheckovError(Exception):
    """checkov could not be run or its answer cannot be trusted; the message is one line."""


@dataclass(slots=True)
class Conversion:
    """A plan rewritten for checkov, with what is needed to check and attribute its answer.

    Work is split in scan units, each one checkov framework over one input: `terraform_plan`, `arm`,
    and one `kubernetes` unit per cluster (`kubernetes` for the default provider, `kubernetes@<provider
    name>` for each explicit one). Clusters are scanned apart because checkov's graph checks link
    objects across everything in a scan (a default-deny NetworkPolicy covers every Pod it sees).
    """

    terraform_plan: dict[str, Any] | None = None
    arm_template: dict[str, Any] | None = None
    kubernetes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Kubernetes unit → its objects."""
    owners: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    """(scan unit, checkov resource id) → (URN, Pulumi type)."""
    expected_counts: dict[str, int] = field(default_factory=dict)
    """scan unit → resources checkov must report."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(URN, why) for plan resources checkov cannot see."""


def framework_of(unit: str) -> str:
    """The checkov framework of a scan unit (`kubernetes@eks` → `kubernetes`)."""
    return unit.partition("@")[0]


def checkov_environment() -> Path:
    """Path of the isolated environment's python (`.venv-checkov/bin/python` under the repo root)."""
    return CHECKOV_ENV / "bin" / "python"


# ---------------------------------------------------------------------------------------------------
# Shared value helpers


def _is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == UNKNOWN_MARK


def _integral(value: Any) -> Any:
    # 7.0 made CKV_AWS_338 answer UNKNOWN, which reports leave out.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _snake(name: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _singular(name: str) -> str:
    # The bridge pluralises list blocks (guest_accelerator → guestAccelerators); Terraform does not.
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("sses", "xes", "ches", "shes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith(("ss", "us", "is")):
        return name[:-1]
    return name


def _looks_like_map(value: Mapping[str, Any]) -> bool:
    # Property names are lowerCamel identifiers; map keys are user data ("kubernetes.io/role/elb", "Name").
    return any(not re.fullmatch(r"[a-z][A-Za-z0-9]*", key) for key in value)


def _unique(name: str, taken: set[str]) -> str:
    candidate, counter = name, 2
    while candidate in taken:
        candidate, counter = f"{name}_{counter}", counter + 1
    taken.add(candidate)
    return candidate


def _urn_to_resource(plan: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {resource["urn"]: resource for resource in plan.get("resources", [])}


# ---------------------------------------------------------------------------------------------------
# Terraform plan (aws:*, gcp:*)


def _tf_scalar_list(values: list[Any]) -> tuple[list[Any] | None, list[Any] | bool | None]:
    """(known values or None, after_unknown) for a list of scalars."""
    unknown = [_is_unknown(v) for v in values]
    if not values:
        return None, None
    if all(unknown):
        return None, True
    known = [_integral(v) for v, u in zip(values, unknown, strict=True) if not u]
    return known, ([True] * unknown.count(True) if any(unknown) else None)


def _tf_map(value: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, bool] | None]:
    """A map attribute: keys verbatim, unknown entries moved to after_unknown."""
    known = {k: _integral(v) for k, v in value.items() if not _is_unknown(v)}
    unknown = {k: True for k, v in value.items() if _is_unknown(v)}
    return known or None, unknown or None


def _tf_blocks(items: list[Any]) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
    """A list of nested blocks; blocks left empty are dropped (they made GKE checks crash and drop out)."""
    converted = [_tf_block(item) for item in items if isinstance(item, dict)]
    kept = [(block, unknown) for block, unknown in converted if block]
    blocks = [block for block, _ in kept]
    unknowns = [unknown for _, unknown in kept]
    return (blocks or None), (unknowns if any(unknowns) else None)


def _tf_attribute(key: str, value: Any) -> tuple[Any, Any]:
    """(value or None to omit it, after_unknown or None) of one input in Terraform plan form."""
    name = _snake(key)
    if _is_unknown(value):
        return None, True
    if name in _TF_JSON_STRING_KEYS and isinstance(value, dict | list):
        return json.dumps(value), None
    if isinstance(value, dict):
        if key in _TF_MAP_KEYS or _looks_like_map(value):
            return _tf_map(value)
        block, block_unknown = _tf_block(value)
        # A nested object is a block: a list of one object, as `terraform show -json` writes it.
        return ([block] if block else None), ([block_unknown] if block_unknown else None)
    if isinstance(value, list):
        if any(isinstance(item, dict) for item in value):
            return _tf_blocks(value)
        # An empty list crashed CKV_AWS_37, which then vanished from the report: omit it.
        return _tf_scalar_list(value)
    return _integral(value), None


def _tf_block(inputs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values, after_unknown) of one object of inputs in Terraform plan form."""
    values: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in inputs.items():
        if value is None:
            continue
        converted, converted_unknown = _tf_attribute(key, value)
        name = _snake(key)
        # Terraform names list blocks in the singular; the bridge pluralised them. Both go in.
        is_block_list = isinstance(converted, list) and any(isinstance(item, dict) for item in converted)
        for alias in dict.fromkeys((name, _singular(name))) if is_block_list else (name,):
            if converted is not None:
                values[alias] = converted
            if converted_unknown is not None:
                unknown[alias] = converted_unknown
    return values, unknown


def _tf_references(
    resource: Mapping[str, Any], addresses: Mapping[str, str]
) -> dict[str, dict[str, list[str]]]:
    """`configuration` expressions: each input that depends on another converted resource references it."""
    expressions: dict[str, dict[str, list[str]]] = {}
    for key, urns in resource.get("propertyDependencies", {}).items():
        targets = [addresses[urn] for urn in urns if urn in addresses]
        if targets:
            references = [ref for target in targets for ref in (f"{target}.id", target)]
            name = _snake(key)
            for alias in dict.fromkeys((name, _singular(name))):
                expressions[alias] = {"references": references}
    return expressions


def _terraform_plan(plan: Mapping[str, Any], conversion: Conversion) -> None:
    resources = [
        r for r in plan.get("resources", []) if r.get("custom") and not r.get("read") and _tf_type(r["type"])
    ]
    addresses: dict[str, str] = {}
    names: dict[str, set[str]] = {}
    for resource in resources:
        tf_type = _tf_type(resource["type"])
        assert tf_type is not None
        base = re.sub(r"[^A-Za-z0-9_-]", "_", resource["name"])
        if not re.match(r"[A-Za-z_]", base):
            base = f"r_{base}"
        name = _unique(base, names.setdefault(tf_type, set()))
        addresses[resource["urn"]] = f"{tf_type}.{name}"
    planned, changes, configured = [], [], []
    for resource in resources:
        address = addresses[resource["urn"]]
        tf_type, name = address.split(".", 1)
        values, after_unknown = _tf_block(resource.get("inputs", {}))
        provider = "registry.terraform.io/hashicorp/" + tf_type.split("_", 1)[0]
        common = {"address": address, "mode": "managed", "type": tf_type, "name": name}
        planned.append({**common, "provider_name": provider, "schema_version": 0, "values": values})
        changes.append({
            **common,
            "provider_name": provider,
            "change": {"actions": ["create"], "before": None, "after": values, "after_unknown": after_unknown},
        })  # fmt: skip
        configured.append({
            **common,
            "provider_config_key": tf_type.split("_", 1)[0],
            "expressions": _tf_references(resource, addresses),
        })  # fmt: skip
        conversion.owners[(TERRAFORM_PLAN, address)] = (resource["urn"], resource["type"])
    if not resources:
        return
    conversion.terraform_plan = {
        "format_version": "1.2",
        "terraform_version": _TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {"root_module": {"resources": configured}},
    }
    conversion.expected_counts[TERRAFORM_PLAN] = len(resources)


def _tf_type(token: str) -> str | None:
    if token.startswith("pulumi:") or token.partition(":")[0] not in tf_types.PREFIXES:
        return None
    return tf_types.terraform_type(token)


# ---------------------------------------------------------------------------------------------------
# ARM template (azure-native:*)


def _arm_value(value: Any) -> Any:
    """Inputs in ARM form: unknowns and empty containers dropped, integral floats as ints."""
    if isinstance(value, dict):
        converted = {k: _arm_value(v) for k, v in value.items() if not _is_unknown(v) and v is not None}
        return {k: v for k, v in converted.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [_arm_value(v) for v in value if not _is_unknown(v)]
    return _integral(value)


def _arm_resource_name(token: str, resource: Mapping[str, Any]) -> str:
    """The Azure name of a resource: the input azure-native names it by, else the Pulumi logical name.

    azure-native takes a resource's own name as `resourceName`, `<typeName>Name` (`vaultName`,
    `registryName`) or `accountName`; checks such as CKV_AZURE_43 read it, and a logical name like
    `models-artifacts` is not a valid storage account name.
    """
    type_name = token.rsplit(":", 1)[-1]
    inputs = resource.get("inputs", {})
    for key in ("resourceName", type_name[:1].lower() + type_name[1:] + "Name", "accountName", "name"):
        value = inputs.get(key)
        if isinstance(value, str) and value and value != "[unknown]":
            return value
    return str(resource["name"])


def _arm_template(plan: Mapping[str, Any], conversion: Conversion) -> None:
    resources = []
    names: dict[str, set[str]] = {}
    for resource in plan.get("resources", []):
        token = resource["type"]
        if not token.startswith("azure-native:") or not resource.get("custom") or resource.get("read"):
            continue
        arm = arm_types.arm_type(token)
        if arm is None:
            conversion.skipped.append((resource["urn"], f"no ARM type known for {token}"))
            continue
        renames = arm_types.PROPERTY_RENAMES.get(arm.type, {})
        inputs = _arm_value(resource.get("inputs", {}))
        top = {key: inputs.pop(key) for key in list(inputs) if key in _ARM_TOP_LEVEL}
        properties = dict(inputs.pop("properties", {})) if isinstance(inputs.get("properties"), dict) else {}
        for key, value in inputs.items():
            if key not in _ARM_DROPPED:
                properties[renames.get(key, key)] = value
        name = _unique(
            re.sub(r"[^A-Za-z0-9_.-]", "-", _arm_resource_name(token, resource)),
            names.setdefault(arm.type, set()),
        )
        document = {"type": arm.type, "apiVersion": arm.api_version, "name": name, **top}
        if properties:
            document["properties"] = properties
        resources.append(document)
        conversion.owners[(ARM, f"{arm.type}.{name}")] = (resource["urn"], token)
    if resources:
        conversion.arm_template = {
            "$schema": _ARM_SCHEMA,
            "contentVersion": "1.0.0.0",
            "resources": resources,
        }
        conversion.expected_counts[ARM] = len(resources)


# ---------------------------------------------------------------------------------------------------
# Kubernetes objects (kubernetes:*)


def _k8s_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _k8s_value(v) for k, v in value.items() if not _is_unknown(v) and v is not None}
    if isinstance(value, list):
        return [_k8s_value(v) for v in value if not _is_unknown(v)]
    return _integral(value)


def _namespace_of(resource: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The namespace a resource names, or the one it took from a Namespace in the plan (autonamed)."""
    namespace = resource.get("inputs", {}).get("metadata", {}).get("namespace")
    if isinstance(namespace, str) and not _is_unknown(namespace):
        return namespace
    for urn in resource.get("propertyDependencies", {}).get("metadata", []):
        source = by_urn.get(urn, {})
        if source.get("type") == "kubernetes:core/v1:Namespace":
            name = source.get("inputs", {}).get("metadata", {}).get("name")
            return name if isinstance(name, str) and not _is_unknown(name) else source.get("name")
    return None


def _pod_id(document: Mapping[str, Any], namespace: str) -> str | None:
    """The id checkov gives the Pod it expands from a workload's template (kubernetes_utils.get_resource_id)."""
    if document.get("kind") not in _POD_TEMPLATE_KINDS:
        return None
    template = document.get("spec", {}).get("template")
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict | list):
        return None
    metadata = template.get("metadata")
    if not isinstance(metadata, dict):
        return None
    pod_namespace = metadata.get("namespace", namespace)
    if metadata.get("name"):
        return f"Pod.{pod_namespace}.{metadata['name']}"
    labels = metadata.get("labels")
    if labels is None:
        return None
    if not labels:
        return None
    label_part = ".".join(f"{key}-{value}" for key, value in labels.items())
    return f"Pod.{pod_namespace}.{document['metadata']['name']}.{label_part}"


def _kubernetes_unit(resource: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]) -> str:
    provider = by_urn.get(resource.get("provider") or "")
    return f"{KUBERNETES}@{provider['name']}" if provider else KUBERNETES


def _kubernetes(plan: Mapping[str, Any], conversion: Conversion) -> None:
    by_urn = _urn_to_resource(plan)
    taken: dict[str, set[str]] = {}
    for resource in plan.get("resources", []):
        token = resource["type"]
        if not token.startswith("kubernetes:") or not resource.get("custom") or resource.get("read"):
            continue
        if token.startswith(_KUBERNETES_NOT_OBJECTS):
            why = "a Helm release or rendered bundle: its objects are not in the plan"
            conversion.skipped.append((resource["urn"], why))
            continue
        document = _k8s_value(resource.get("inputs", {}))
        kind = document.get("kind")
        if not kind or _KUBERNETES_LIST_KIND.search(str(kind)):
            conversion.skipped.append(
                (resource["urn"], f"not a single Kubernetes object ({kind or 'no kind'})")
            )
            continue
        unit = _kubernetes_unit(resource, by_urn)
        metadata = document.setdefault("metadata", {})
        namespace = _namespace_of(resource, by_urn)
        if namespace is not None:
            metadata["namespace"] = namespace
        shown_namespace = namespace or "default"
        # checkov skips objects without a name; Pulumi autonames (name + suffix) when none is given.
        base = metadata.get("name") or resource["name"]
        name, counter = base, 2
        ids = taken.setdefault(unit, set())
        while f"{kind}.{shown_namespace}.{name}" in ids:
            name, counter = f"{base}-{counter}", counter + 1
        metadata["name"] = name
        object_id = f"{kind}.{shown_namespace}.{name}"
        ids.add(object_id)
        spec = document.get("spec")
        template = spec.get("template") if isinstance(spec, dict) else None
        if kind in _POD_TEMPLATE_KINDS and isinstance(template, dict):
            template.setdefault("metadata", {})  # checkov's pod expansion crashes without one
        owner = (resource["urn"], token)
        conversion.owners[(unit, object_id)] = owner
        conversion.expected_counts[unit] = conversion.expected_counts.get(unit, 0) + 1
        pod_id = _pod_id(document, shown_namespace)
        if pod_id is not None:
            conversion.owners[(unit, pod_id)] = owner
            conversion.expected_counts[unit] += 1
        conversion.kubernetes.setdefault(unit, []).append(document)


def convert_plan(plan: Mapping[str, Any]) -> Conversion:
    """The plan as a Terraform plan, an ARM template and Kubernetes documents, with attribution maps."""
    conversion = Conversion()
    for resource in plan.get("resources", []):
        if resource.get("read"):
            conversion.skipped.append((resource["urn"], "read with `get`: this stack does not manage it"))
    _terraform_plan(plan, conversion)
    _arm_template(plan, conversion)
    _kubernetes(plan, conversion)
    return conversion


# ---------------------------------------------------------------------------------------------------
# Running checkov


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BC_", "CKV_", "PRISMA_"))}
    env.update({
        "BC_SKIP_MAPPING": "TRUE",  # no platform calls for guidelines/severities
        "DO_NOT_TRACK": "true",
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
        "EVAL_TF_PLAN_AFTER_UNKNOWN": "true",  # unknown-after-apply attributes count as set, not absent
        "LOG_LEVEL": "WARNING",
        "PYTHONDONTWRITEBYTECODE": "1",
    })  # fmt: skip
    return env


def _write_inputs(
    conversion: Conversion, dockerfiles: Sequence[Path], workdir: Path
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Write the converted documents: (scan unit → files to scan, written Dockerfile → given path)."""
    files: dict[str, list[str]] = {}
    if conversion.terraform_plan is not None:
        path = workdir / "plan.tfplan.json"
        path.write_text(json.dumps(conversion.terraform_plan, indent=1), encoding="utf-8")
        files[TERRAFORM_PLAN] = [str(path)]
    if conversion.arm_template is not None:
        path = workdir / "template.arm.json"
        path.write_text(json.dumps(conversion.arm_template, indent=1), encoding="utf-8")
        files[ARM] = [str(path)]
    for index, (unit, documents) in enumerate(conversion.kubernetes.items()):
        path = workdir / f"objects-{index}.k8s.yaml"
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
        files[unit] = [str(path)]
    given: dict[str, str] = {}
    for index, dockerfile in enumerate(dockerfiles):
        # checkov only scans files named like a Dockerfile (`Containerfile` would vanish): copy under that name.
        path = workdir / "dockerfiles" / str(index) / "Dockerfile"
        path.parent.mkdir(parents=True)
        path.write_bytes(Path(dockerfile).read_bytes())
        files.setdefault(DOCKERFILE, []).append(str(path))
        given[str(path.resolve())] = str(dockerfile)
    return files, given


def _batches(files: Mapping[str, list[str]]) -> list[dict[str, list[str]]]:
    """Scan units grouped into checkov runs: at most one unit per framework in a run."""
    batches: list[dict[str, list[str]]] = []
    for unit, paths in files.items():
        batch = next((b for b in batches if framework_of(unit) not in {framework_of(u) for u in b}), None)
        if batch is None:
            batch = {}
            batches.append(batch)
        batch[unit] = paths
    return batches


def _cli_arguments(files: Mapping[str, Sequence[str]], skip_checks: Sequence[str]) -> list[str]:
    frameworks = dict.fromkeys(framework_of(unit) for unit in files)
    arguments = ["--framework", *frameworks, "--output", "json", "--quiet", "--skip-download", "--compact"]
    for paths in files.values():
        for path in paths:
            arguments += ["--file", path]
    if skip_checks:
        arguments += ["--skip-check", ",".join(skip_checks)]
    return arguments


def _run_cli(python: Path, files: Mapping[str, Sequence[str]], skip_checks: Sequence[str]) -> tuple[Any, str]:
    command = [str(python), "-m", "checkov.main", *_cli_arguments(files, skip_checks)]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=_SCAN_TIMEOUT_S, env=_environment(), check=False
        )
    except subprocess.TimeoutExpired:
        raise CheckovError(f"checkov did not finish within {_SCAN_TIMEOUT_S:.0f} s") from None
    # Exit 1 means "some check failed"; anything else is a crash.
    if completed.returncode not in (0, 1):
        tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise CheckovError(f"checkov exited {completed.returncode}: {tail}")
    try:
        return json.loads(completed.stdout), completed.stderr
    except json.JSONDecodeError:
        raise CheckovError(f"checkov printed no JSON report: {completed.stdout[:200]!r}") from None


class _Worker:
    """checkov imported once in its own interpreter, answering one JSON request per line."""

    def __init__(self, python: Path) -> None:
        self.lock = threading.Lock()
        # checkov runs checks in forked processes, which log "Failed to run check" to the stderr they
        # inherit: a file (read after each answer) sees them all, and cannot fill up and block like a pipe.
        descriptor, name = tempfile.mkstemp(prefix="hub-checkov-worker-", suffix=".log")
        os.close(descriptor)
        self.log_path = Path(name)
        env = _environment()
        env["PYTHONPATH"] = str(REPO_ROOT)  # this file imports the type tables next to it, nothing else
        with self.log_path.open("a", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [str(python), "-u", str(Path(__file__).resolve()), "--worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
                cwd=str(REPO_ROOT),
            )

    def _log_from(self, offset: int) -> str:
        with self.log_path.open(encoding="utf-8", errors="replace") as log:
            log.seek(offset)
            return log.read()

    def scan(self, files: Mapping[str, Sequence[str]], skip_checks: Sequence[str]) -> tuple[Any, str]:
        request = json.dumps({"files": dict(files), "skip_checks": list(skip_checks)})
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        with self.lock:
            offset = self.log_path.stat().st_size
            line = ""
            try:
                stdin.write(request + "\n")
                stdin.flush()
                if select.select([stdout], [], [], _SCAN_TIMEOUT_S)[0]:
                    line = stdout.readline()
            except OSError:
                pass
            log = self._log_from(offset)
        if not line:
            timed_out = self.process.poll() is None
            self.close()
            if timed_out:
                raise CheckovError(f"checkov did not answer within {_SCAN_TIMEOUT_S:.0f} s")
            tail = (log.strip().splitlines() or ["no output"])[-1]
            raise CheckovError(f"checkov worker stopped: {tail}")
        answer = json.loads(line)
        if "error" in answer:
            raise CheckovError(f"checkov failed: {answer['error']}")
        return answer["report"], log

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                if self.process.stdin:
                    self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(OSError):
            if self.process.stdout:
                self.process.stdout.close()
        self.log_path.unlink(missing_ok=True)


_WORKERS: dict[Path, _Worker] = {}
_WORKERS_LOCK = threading.Lock()


def _worker(python: Path) -> _Worker:
    with _WORKERS_LOCK:
        worker = _WORKERS.get(python)
        if worker is None or worker.process.poll() is not None:
            worker = _WORKERS[python] = _Worker(python)
        return worker


@atexit.register
def shutdown_workers() -> None:
    """Stop every checkov worker this process started."""
    with _WORKERS_LOCK:
        for worker in _WORKERS.values():
            worker.close()
        _WORKERS.clear()


def _reports(answer: Any) -> dict[str, Mapping[str, Any]]:
    # checkov prints one report object for one framework, a list for several, and a bare summary when
    # a framework found nothing to scan.
    reports = answer if isinstance(answer, list) else [answer]
    return {
        report["check_type"]: report
        for report in reports
        if isinstance(report, dict) and "check_type" in report
    }


def _findings(
    unit: str, report: Mapping[str, Any], conversion: Conversion, dockerfiles: Mapping[str, str]
) -> list[CheckovFinding]:
    framework = framework_of(unit)
    findings: list[CheckovFinding] = []
    for result in report.get("results", {}).get("failed_checks", []):
        check_id = result["check_id"]
        if framework == DOCKERFILE:
            path = result.get("file_abs_path", "")
            given = dockerfiles.get(str(Path(path).resolve()))
            if given is None:
                raise CheckovError(f"checkov reported {check_id} on an unknown Dockerfile {path}")
            owner = (given, "Dockerfile")
        else:
            resource_id = str(result.get("resource", ""))
            found = conversion.owners.get((unit, resource_id))
            if found is None:
                raise CheckovError(f"checkov reported {check_id} on {resource_id}, which is no plan resource")
            owner = found
        findings.append(
            CheckovFinding(
                check_id=check_id,
                check_name=result.get("check_name", ""),
                urn=owner[0],
                resource_type=owner[1],
                severity=result.get("severity") or None,
                guideline=result.get("guideline") or None,
                framework=framework,
            )
        )
    return findings


def _guard(unit: str, report: Mapping[str, Any], expected: int) -> None:
    # With nothing to scan checkov prints a bare summary and no report for the framework.
    summary = report.get("summary", {})
    reported = summary.get("resource_count", 0)
    if reported != expected:
        raise CheckovError(
            f"checkov scanned {reported} {unit} resource(s) where {expected} were converted; "
            "a shape rule is broken and results would be incomplete"
        )
    if summary.get("parsing_errors", 0):
        raise CheckovError(f"checkov could not parse the {unit} input ({summary['parsing_errors']} error(s))")


def _guard_log(log: str) -> None:
    failed = [line.strip() for line in log.splitlines() if _FAILED_CHECK in line]
    if failed:
        message = failed[0][failed[0].index(_FAILED_CHECK) :]
        raise CheckovError(f"{message} ({len(failed)} check(s) crashed; their results would be missing)")


def scan_plan(
    plan: Mapping[str, Any],
    *,
    dockerfiles: Sequence[Path] = (),
    checkov_python: Path | None = None,
    skip_checks: Sequence[str] = (),
) -> list[CheckovFinding]:
    """Run checkov over an offline plan (and Dockerfiles) and return its failed checks, per plan URN.

    Raises:
        CheckovError: checkov's environment is missing, checkov failed or crashed in a check, or it
            reported a different number of resources than were converted.
    """
    python = checkov_python or checkov_environment()
    if not python.exists():
        raise CheckovError(f"checkov's environment is missing ({python}); create it with `{MAKE_TARGET}`")
    missing = [str(p) for p in dockerfiles if not Path(p).is_file()]
    if missing:
        raise CheckovError(f"no such Dockerfile: {missing[0]}")
    conversion = convert_plan(plan)
    expected = dict(conversion.expected_counts)
    if dockerfiles:
        expected[DOCKERFILE] = len(dockerfiles)
    findings: list[CheckovFinding] = []
    with tempfile.TemporaryDirectory(prefix="hub-checkov-") as workdir:
        files, given = _write_inputs(conversion, dockerfiles, Path(workdir))
        for batch in _batches(files):
            if os.environ.get("CHECKOV_BRIDGE_MODE", "worker") == "cli":
                answer, log = _run_cli(python, batch, skip_checks)
            else:
                answer, log = _worker(python).scan(batch, skip_checks)
            _guard_log(log)
            reports = _reports(answer)
            for unit in batch:
                report = reports.get(framework_of(unit), {})
                _guard(unit, report, expected[unit])
                findings += _findings(unit, report, conversion, given)
    return sorted(findings, key=lambda f: (f.framework, f.urn, f.check_id))


# ---------------------------------------------------------------------------------------------------
# The worker: this file run by checkov's interpreter (it imports nothing from the project there).


def _serve(stdin: IO[str], stdout: IO[str]) -> None:  # pragma: no cover - runs in checkov's venv
    import io  # noqa: PLC0415

    from checkov import main as checkov_main  # type: ignore[import-not-found]  # noqa: PLC0415

    for line in stdin:
        request = json.loads(line)
        output = io.StringIO()
        try:
            run = checkov_main.Checkov(argv=_cli_arguments(request["files"], request["skip_checks"]))
            # Runners keep what they parsed (the Kubernetes one reuses it on the next run): fresh ones.
            run.runners = [type(runner)() for runner in checkov_main.DEFAULT_RUNNERS]
            with contextlib.redirect_stdout(output):
                run.run()
            answer = {"report": json.loads(output.getvalue())}
        except Exception as err:  # noqa: BLE001 - the client turns it into a CheckovError
            answer = {"error": f"{type(err).__name__}: {err}"}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[IO[str]]:  # pragma: no cover - runs in checkov's venv
    # checkov prints banners and progress to stdout; only protocol lines may reach the client.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        yield protocol
    finally:
        protocol.close()


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:  # pragma: no cover
    with _quiet_stdout() as protocol_out:
        _serve(sys.stdin, protocol_out)
