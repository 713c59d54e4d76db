"""k8s-images-from-allowed-registries-pinned: images come from allowed registries, pinned by digest or immutable tag."""

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.k8s_support import containers, pod_specs, report_unless_exempt, workload_schema
from mlops_policies.platform_support import STRING_LIST, config_strings, config_value, shown
from mlops_policies.support import Controls, resource_policy

DEFAULT_IMMUTABLE_TAG_PATTERN = r"^v?[0-9]+\.[0-9]+\.[0-9]+$"
"""Release tags such as `v25.10.1` or `1.3.2`: immutable only where the registry enforces it (ECR
IMMUTABLE, Artifact Registry immutable tags, ACR locks)."""
DOCKER_HUB = "docker.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_IMAGE_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,254}$")


@dataclass(frozen=True, slots=True)
class ImageReference:
    """An image reference split the way container runtimes read it."""

    registry: str
    """Lowercased host (and port); `docker.io` when the reference names none."""
    repository: str
    tag: str | None
    digest: str | None


def parse_image(image: str) -> ImageReference:
    """Split `[registry/]repository[:tag][@digest]`; a first component with `.`/`:` or `localhost` is a host."""
    name, _, digest = image.strip().partition("@")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, remainder = first.lower(), rest
    else:
        registry, remainder = DOCKER_HUB, name if "/" in name else f"library/{name}"
    repository, colon, tag = (
        remainder.rpartition(":") if ":" in remainder.rsplit("/", 1)[-1] else (remainder, "", "")
    )
    return ImageReference(registry, repository, tag if colon else None, digest or None)


def _host_pattern(host: str) -> re.Pattern[str]:
    # `*` stands for exactly one DNS label: `*.azurecr.io` admits `team.azurecr.io`, not `a.b.azurecr.io`.
    return re.compile("^" + r"[a-z0-9-]+".join(re.escape(part) for part in host.lower().split("*")) + "$")


def allowed_by(reference: ImageReference, entry: str) -> bool:
    """Whether an image lies under an `allowedRegistries` entry (`host[/path-prefix]`, `*` for one label)."""
    host, _, prefix = entry.strip().rstrip("/").partition("/")
    if not _host_pattern(host).match(reference.registry):
        return False
    return not prefix or reference.repository == prefix or reference.repository.startswith(prefix + "/")


def image_problems(
    label: str, image: Any, allowed: Sequence[str], tag_pattern: re.Pattern[str]
) -> Iterator[str]:
    """A message for an image outside the allowed registries and for one not pinned."""
    if not isinstance(image, str) or not image.strip():
        yield f"{label} names no image"
        return
    reference = parse_image(image)
    quoted = shown(image.strip(), _IMAGE_TEXT)
    if not any(allowed_by(reference, entry) for entry in allowed):
        configured = "" if allowed else " (none configured)"
        yield f"{label} pulls {quoted} from a registry outside allowedRegistries{configured}"
    if reference.digest is not None:
        if not _DIGEST.match(reference.digest):
            yield f"{label} image {quoted} has a malformed digest: pin it as @sha256:<64 hex digits>"
        return
    if reference.tag is None:
        yield f"{label} image {quoted} has no tag (so `latest`): pin it by @sha256 digest"
    elif reference.tag == "latest":
        yield f"{label} image {quoted} uses the mutable `latest` tag: pin it by @sha256 digest or a release tag"
    elif not tag_pattern.match(reference.tag):
        yield f"{label} image {quoted} is not pinned: use an @sha256 digest or a tag matching immutableTagPattern"


def unpinned_or_foreign_images(
    type_token: str, props: Mapping[str, Any], allowed: Sequence[str], tag_pattern: re.Pattern[str]
) -> Iterator[str]:
    """Every image problem of every container in the object."""
    for _, container in containers(pod_specs(type_token, props)):
        yield from image_problems(container.label, container.spec.get("image"), allowed, tag_pattern)


def tag_pattern_of(args: ResourceValidationArgs) -> re.Pattern[str]:
    """The configured immutable-tag pattern, compiled.

    Raises:
        ValueError: it is not a valid regular expression.
    """
    pattern = config_value(args, "immutableTagPattern", DEFAULT_IMMUTABLE_TAG_PATTERN)
    try:
        return re.compile(str(pattern))
    except re.error:
        raise ValueError("policy config `immutableTagPattern` is not a valid regular expression") from None


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    allowed = config_strings(args, "allowedRegistries", ())
    messages = unpinned_or_foreign_images(args.resource_type, args.props, allowed, tag_pattern_of(args))
    report_unless_exempt(args, messages, report_violation)


POLICY = resource_policy(
    name="k8s-images-from-allowed-registries-pinned",
    description=(
        "Kubernetes containers pull images only from allowed registries, pinned by @sha256 digest or by an "
        "immutable release tag; `latest` and untagged images fail."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Mirror the image into the stack's registry (ECR, Artifact Registry, ACR) or an allowed upstream, and "
        "reference it as <registry>/<repository>@sha256:<digest> (or a release tag in a registry that enforces "
        "tag immutability)."
    ),
    controls=Controls(cis=("K8S-5.5.1",), nist=("CM-7(5)", "SI-7", "SR-11"), eu_ai_act=("Art.15",)),
    validate=_validate,
    config_schema=workload_schema(
        {
            "allowedRegistries": {
                **STRING_LIST,
                "default": [],
                "description": (
                    "Registries images may come from: `host[/path-prefix]`, `*` standing for one DNS label "
                    "(`*.azurecr.io`). Empty: no registry is trusted."
                ),
            },
            "immutableTagPattern": {
                "type": "string",
                "default": DEFAULT_IMMUTABLE_TAG_PATTERN,
                "description": "Regular expression of tags treated as immutable (besides @sha256 digests).",
            },
        }
    ),
)
