"""API keys and per-key rate limits.

Keys are stored as `key_id:sha256-hex` lines, never in clear. A presented key is hashed and compared
with every stored hash in constant time (`hmac.compare_digest`, no early exit), so neither the
comparison nor the number of keys checked before a match leaks anything about the stored hashes.

Rate limits are token buckets per key id. One token is one row: a 32-row batch costs 32 tokens, so a
client cannot multiply its query budget by batching (what model-extraction attacks would do first).
"""

import hashlib
import hmac
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ApiKeyFileError(ValueError):
    """The keys file cannot be used; the message names the file and line."""


def hash_key(key: str) -> str:
    """The hex sha256 stored for a key (what an operator writes after `key_id:`)."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    """The accepted keys: key id and sha256 digest of each."""

    def __init__(self, entries: dict[str, str]) -> None:
        """`entries` maps key id to lower-case hex sha256 of the key."""
        self._entries = [(key_id, bytes.fromhex(digest)) for key_id, digest in entries.items()]

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def from_file(cls, path: Path) -> "ApiKeys":
        """Parse `key_id:sha256hex` lines; blank lines and `#` comments are skipped.

        Raises:
            ApiKeyFileError: the file is unreadable, a line is malformed or a key id repeats.
        """
        try:
            lines = path.read_text().splitlines()
        except OSError as error:
            raise ApiKeyFileError(f"cannot read API keys file {path}: {error.strerror}") from None
        entries: dict[str, str] = {}
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key_id, _, digest = line.partition(":")
            key_id, digest = key_id.strip(), digest.strip().lower()
            if not _KEY_ID.match(key_id) or not _SHA256.match(digest):
                raise ApiKeyFileError(
                    f"{path}:{number}: expected 'key_id:sha256-hex' (key id of [A-Za-z0-9._-], 64 hex digits)"
                )
            if key_id in entries:
                raise ApiKeyFileError(f"{path}:{number}: key id {key_id!r} appears twice")
            entries[key_id] = digest
        return cls(entries)

    def identify(self, presented: str | None) -> str | None:
        """The key id of a presented key, or None; constant time over every stored digest."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        found: str | None = None
        for key_id, stored in self._entries:
            if hmac.compare_digest(digest, stored):
                found = key_id
        return found


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per key id: `rate` tokens per second, at most `burst` stored."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        """A new key starts with a full bucket."""
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key_id: str, cost: float) -> float:
        """Spend `cost` tokens; returns 0.0 when allowed, else the seconds until it would be (nothing
        is spent then)."""
        now = self._clock()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate

    @staticmethod
    def retry_after(wait_s: float) -> str:
        """The `Retry-After` header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(wait_s)))
