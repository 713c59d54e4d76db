"""Model-extraction detection: query volume and input-space coverage per API key over a sliding window.

Each feature's valid interval is cut into `bins` equal-width bins, giving features x bins cells. For
every key the detector remembers when it last hit each cell; a key's coverage is the share of cells
hit within the window. Organic traffic is concentrated where real transactions are (small amounts,
young-ish accounts, few failed logins: about half the cells of the synthetic generator's data, with
or without drift), while an extraction sweep probes the whole valid domain to map the decision
boundary and soon covers nearly every cell. A key is flagged when, within the window, it sent at
least `min_rows` rows and covered at least `coverage` of the cells, or sent `max_rows` rows whatever
their spread. A flag clears once the key's window no longer meets either condition.

The per-request cost is a handful of numpy operations on an (n, features) array.
"""

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lifecycle.features import FEATURES

_MINIMA = np.array([feature.minimum for feature in FEATURES], dtype=np.float64)
_SPANS = np.array([feature.maximum - feature.minimum for feature in FEATURES], dtype=np.float64)
_COLUMNS = np.arange(len(FEATURES))


@dataclass(frozen=True)
class Verdict:
    """A key's window after one request: whether it is flagged, and whether that is new
    (`coverage` is -1 when not computed: too few rows in the window to judge it)."""

    flagged: bool
    newly_flagged: bool
    rows: int
    coverage: float


@dataclass
class _KeyWindow:
    last_hit: npt.NDArray[np.float64]
    per_second: deque[list[float]] = field(default_factory=deque)
    rows: int = 0
    flagged: bool = False


class ExtractionDetector:
    """Per-key sliding windows of volume and coverage; see the module docstring."""

    def __init__(
        self,
        *,
        window_s: float,
        bins: int,
        min_rows: int,
        coverage: float,
        max_rows: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Thresholds as in `ServingSettings.extraction_*`."""
        self.window_s = window_s
        self.bins = bins
        self.min_rows = min_rows
        self.coverage_threshold = coverage
        self.max_rows = max_rows
        self._clock = clock
        self._scale = bins / _SPANS
        self._last_bin = bins - 1
        self._windows: dict[str, _KeyWindow] = {}

    def observe(self, key_id: str, matrix: npt.NDArray[np.float64]) -> Verdict:
        """Account one validated request of `key_id` and judge the key's window."""
        now = self._clock()
        window = self._windows.get(key_id)
        if window is None:
            window = self._windows[key_id] = _KeyWindow(np.full((len(FEATURES), self.bins), -np.inf))
        # Values are already inside their intervals (validated), so cells are >= 0; a maximum lands
        # one past the last bin and is folded back (np.minimum: np.clip is several times slower).
        cells = ((matrix - _MINIMA) * self._scale).astype(np.intp)
        np.minimum(cells, self._last_bin, out=cells)
        window.last_hit[_COLUMNS, cells] = now  # broadcasts over rows; repeated cells are fine

        rows = matrix.shape[0]
        second = float(int(now))
        seconds = window.per_second
        if seconds and seconds[-1][0] == second:
            seconds[-1][1] += rows
        else:
            seconds.append([second, float(rows)])
        window.rows += rows
        return self._judge(key_id, window, now)

    def judge(self, key_id: str) -> Verdict:
        """Judge the key's window as it stands now, adding nothing (a blocked key's flag clears)."""
        window = self._windows.get(key_id)
        if window is None:
            return Verdict(flagged=False, newly_flagged=False, rows=0, coverage=0.0)
        return self._judge(key_id, window, self._clock())

    def _judge(self, key_id: str, window: _KeyWindow, now: float) -> Verdict:
        seconds = window.per_second
        horizon = now - self.window_s
        while seconds and seconds[0][0] < horizon:
            window.rows -= int(seconds.popleft()[1])
        if window.rows < self.min_rows and not window.flagged:
            return Verdict(flagged=False, newly_flagged=False, rows=window.rows, coverage=-1.0)
        coverage = self.coverage(key_id, now)
        flagged = window.rows >= self.max_rows or (
            window.rows >= self.min_rows and coverage >= self.coverage_threshold
        )
        newly = flagged and not window.flagged
        window.flagged = flagged
        return Verdict(flagged, newly, window.rows, coverage)

    def coverage(self, key_id: str, now: float | None = None) -> float:
        """Share of (feature, bin) cells the key hit within the window."""
        window = self._windows.get(key_id)
        if window is None:
            return 0.0
        horizon = (self._clock() if now is None else now) - self.window_s
        return float(np.count_nonzero(window.last_hit >= horizon)) / window.last_hit.size

    def is_flagged(self, key_id: str) -> bool:
        """Whether the key's last judged window was flagged."""
        window = self._windows.get(key_id)
        return window is not None and window.flagged

    def evidence(self, key_id: str) -> dict[str, object]:
        """What the flag rests on, for the event and logs: rows, coverage and per-feature bins hit."""
        window = self._windows.get(key_id)
        if window is None:
            return {}
        horizon = self._clock() - self.window_s
        hit = window.last_hit >= horizon
        return {
            "api_key_id": key_id,
            "window_s": self.window_s,
            "rows_in_window": window.rows,
            "coverage": round(float(hit.mean()), 4),
            "coverage_threshold": self.coverage_threshold,
            "min_rows": self.min_rows,
            "max_rows": self.max_rows,
            "bins_per_feature": self.bins,
            "bins_hit": {
                feature.name: int(count) for feature, count in zip(FEATURES, hit.sum(axis=1), strict=True)
            },
        }
