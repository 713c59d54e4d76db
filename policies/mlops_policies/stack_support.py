"""What the stack policies share: one way to declare them, finding resources, pairing them, and unknowns.

A stack policy sees every resource at once (`StackValidationArgs.resources`, `PolicyResource`s whose
`property_dependencies` map a property to the resources its value came from). The real engine runs stack
policies only after an update, on outputs; the offline gate runs them on a preview's inputs, where values
computed by the cloud are unknown and raise `UnknownValueError` when read.

The SDK turns an `UnknownValueError` escaping a stack policy into one advisory note for the whole policy.
Raised at the first unknown, that would hide definite violations on every other resource, so stack
policies check each resource under `DeferredUnknowns.guard()` and re-raise the first unknown once all
definite violations are reported. Only `UnknownValueError` is caught, and it is always re-raised: a stack
policy never passes silently on a value it could not read.

Pairing (a public access block with its bucket, a flow log with its VPC) goes by the property's
dependencies first: they are known in preview, whereas the value (a bucket name, a VPC id) often is not.
"""

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.support import Controls, get

StackValidate = Callable[[StackValidationArgs, ReportViolation], None]


def stack_policy(
    *,
    name: str,
    description: str,
    severity: Severity,
    remediation: str,
    controls: Controls,
    validate: StackValidate,
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
    config_schema: PolicyConfigSchema | None = None,
) -> StackValidationPolicy:
    """A stack policy with every piece of metadata the pack requires (mirrors `support.resource_policy`)."""
    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement_level,
        config_schema=config_schema,
        severity=severity,
        tags=controls.tags(),
        remediation_steps=remediation,
    )


class DeferredUnknowns:
    """Collects `UnknownValueError`s from independent checks so that they can be re-raised at the end."""

    def __init__(self) -> None:
        self._first: UnknownValueError | None = None
        self.count = 0
        """How many guarded checks met an unknown value so far."""

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run one check; an unknown value ends that check only and is kept for `raise_first`."""
        try:
            yield
        except UnknownValueError as error:
            self.count += 1
            if self._first is None:
                self._first = error

    def raise_first(self) -> None:
        """Re-raise the first unknown met, for the SDK to report as its advisory note."""
        if self._first is not None:
            raise self._first


@contextmanager
def deferring_unknowns() -> Iterator[DeferredUnknowns]:
    """`with deferring_unknowns() as unknowns:` guard each check; the first unknown is raised on exit."""
    unknowns = DeferredUnknowns()
    yield unknowns
    unknowns.raise_first()


def of_type(args: StackValidationArgs, types: Collection[str]) -> list[PolicyResource]:
    """The stack's resources of the given types, in the stack's order."""
    return [resource for resource in args.resources if resource.resource_type in types]


def paired_with(
    resource: PolicyResource,
    prop: str,
    candidates: Sequence[PolicyResource],
    *,
    identifiers: Sequence[str] = ("id",),
) -> list[PolicyResource]:
    """The candidates that `resource.props[prop]` refers to.

    By the property's dependencies when it has any (known even in preview); otherwise by comparing its
    value with each candidate's `identifiers` properties. Reading a value may raise `UnknownValueError`.
    """
    urns = {candidate.urn for candidate in candidates}
    by_dependency = [d for d in resource.property_dependencies.get(prop, []) if d.urn in urns]
    if by_dependency:
        return by_dependency
    value = get(resource.props, prop)
    if not isinstance(value, str) or not value:
        return []
    return [
        candidate
        for candidate in candidates
        if any(_identifier(candidate, key) == value for key in identifiers)
    ]


def _identifier(resource: PolicyResource, key: str) -> Any:
    return get(resource.props, key)
