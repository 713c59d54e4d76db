"""Shared fixtures: run Pulumi code under the SDK's mocks, one fresh runtime per test."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scripts.hub.offline.engine import ProgramRun, RecordedResource, RunResult, run_function
from scripts.hub.offline.resource_types import effective_tags

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIRED_TAGS = ("environment", "team", "cost-center", "managed-by")


@dataclass
class Recorder:
    """Runs a program body under fresh mocks and answers questions about what it registered."""

    project: str = "mlops-hub"
    stack: str = "test"
    last: RunResult | None = field(default=None, init=False)

    def run(
        self,
        body: Callable[[], None],
        config: Mapping[str, str] | None = None,
        secret_keys: frozenset[str] = frozenset(),
    ) -> RunResult:
        """Run `body` as a whole program in preview mode; mocks installed for this run only."""
        self.last = run_function(
            body,
            ProgramRun(
                entry=REPO_ROOT,
                project=self.project,
                stack=self.stack,
                config=dict(config or {}),
                secret_keys=secret_keys,
            ),
        )
        return self.last

    @property
    def resources(self) -> list[RecordedResource]:
        """Every registration of the last run, in order (the root stack included)."""
        assert self.last is not None, "call run() first"
        return self.last.resources

    def of_type(self, type_token: str) -> list[RecordedResource]:
        """Registrations of one type."""
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str) -> RecordedResource:
        """The single registration of a type."""
        found = self.of_type(type_token)
        assert len(found) == 1, f"expected one {type_token}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> RecordedResource:
        """The registration with this logical name."""
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def children_of(self, parent: RecordedResource) -> list[RecordedResource]:
        """Direct children of `parent`."""
        return [r for r in self.resources if r.parent == parent.urn]

    def tags_of(self, resource: RecordedResource) -> dict[str, Any] | None:
        """Effective tags: the resource's own over its provider's default tags (None if untaggable)."""
        providers = {r.urn: r.to_document() for r in self.resources if r.type.startswith("pulumi:providers:")}
        return effective_tags(resource.to_document(), providers.get(resource.provider or ""))


@pytest.fixture
def pulumi_run() -> Recorder:
    """A Recorder; each `run` installs the mocks, resets the root stack and leaves no global state."""
    return Recorder()
