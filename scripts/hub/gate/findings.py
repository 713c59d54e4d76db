"""Findings from every gate source in one shape, the waivers that excuse them, and the verdict."""

import datetime as dt
import fnmatch
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

MANDATORY = "mandatory"
ADVISORY = "advisory"


class WaiverError(Exception):
    """The waiver file cannot be used; one line naming the file, entry and problem."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the gate found, whatever found it."""

    source: str
    """`policy` (our CrossGuard pack), `checkov`, or `waiver` (an expired waiver)."""
    id: str
    """Policy name or checkov check id."""
    urn: str
    """The resource's URN; empty for findings about the whole stack."""
    resource_type: str
    severity: str
    enforcement: str
    """`mandatory` fails the gate; `advisory` informs."""
    message: str
    remediation: str
    waived_by: str | None = None
    """The reason of the waiver that excuses this finding, if any."""

    @property
    def blocking(self) -> bool:
        """Whether this finding fails the gate."""
        return self.enforcement == MANDATORY and self.waived_by is None

    def to_document(self) -> dict[str, Any]:
        """The finding as JSON."""
        return {
            "source": self.source,
            "id": self.id,
            "urn": self.urn,
            "type": self.resource_type,
            "severity": self.severity,
            "enforcement": self.enforcement,
            "message": self.message,
            "remediation": self.remediation,
            "waived": self.waived_by,
        }


@dataclass(frozen=True, slots=True)
class Waiver:
    """A deliberate, dated exception: data, never a change to a policy."""

    id: str
    """Policy name or checkov check id."""
    resource: str
    """URN, or a shell-style pattern over URNs (`*` for every resource)."""
    reason: str
    expires: dt.date

    def covers(self, finding: Finding) -> bool:
        """Whether this waiver excuses `finding`."""
        return self.id == finding.id and fnmatch.fnmatchcase(finding.urn, self.resource)


def load_waivers(path: Path) -> list[Waiver]:
    """Read a waiver file: `waivers: [{id, resource, reason, expires: YYYY-MM-DD}]`.

    Raises:
        WaiverError: unreadable file, malformed YAML, or an entry missing a field or with a bad date.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise WaiverError(f"cannot read waiver file {path}: {err.strerror}") from None
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise WaiverError(f"malformed YAML in waiver file {where}") from None
    entries = document.get("waivers", []) if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise WaiverError(f"waiver file {path} must hold `waivers:` followed by a list")
    waivers = []
    for index, entry in enumerate(entries):
        where = f"{path} waiver {index}"
        if not isinstance(entry, Mapping):
            raise WaiverError(f"{where} must be a mapping with id, resource, reason and expires")
        missing = [key for key in ("id", "resource", "reason", "expires") if not entry.get(key)]
        if missing:
            raise WaiverError(
                f"{where} is missing {', '.join(missing)}; every waiver needs id, resource, reason, expires"
            )
        expires = entry["expires"]
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError:
                raise WaiverError(f"{where}: expires {expires!r} is not a date (YYYY-MM-DD)") from None
        if not isinstance(expires, dt.date):
            raise WaiverError(f"{where}: expires must be a date (YYYY-MM-DD)")
        waivers.append(Waiver(str(entry["id"]), str(entry["resource"]), str(entry["reason"]), expires))
    return waivers


def apply_waivers(findings: Iterable[Finding], waivers: Sequence[Waiver], today: dt.date) -> list[Finding]:
    """Mark waived findings, and add a blocking finding for every expired waiver (expired waivers fail)."""
    active = [w for w in waivers if w.expires >= today]
    result = []
    for finding in findings:
        waiver = next((w for w in active if w.covers(finding)), None)
        result.append(replace(finding, waived_by=waiver.reason) if waiver else finding)
    for waiver in waivers:
        if waiver.expires < today:
            result.append(
                Finding(
                    source="waiver",
                    id="waiver-expired",
                    urn=waiver.resource,
                    resource_type="",
                    severity="high",
                    enforcement=MANDATORY,
                    message=f"the waiver of {waiver.id} for {waiver.resource} expired on {waiver.expires.isoformat()}",
                    remediation="Fix the finding it excused, or renew the waiver with a new reason and expiry.",
                )
            )
    return result


def verdict(findings: Iterable[Finding]) -> str:
    """`fail` when any finding blocks, else `pass`."""
    return "fail" if any(f.blocking for f in findings) else "pass"


def summary(findings: Sequence[Finding]) -> dict[str, Any]:
    """Counts for reports."""
    return {
        "total": len(findings),
        "blocking": sum(f.blocking for f in findings),
        "waived": sum(f.waived_by is not None for f in findings),
        "by_source": dict(Counter(f.source for f in findings)),
        "by_enforcement": dict(Counter(f.enforcement for f in findings)),
    }
