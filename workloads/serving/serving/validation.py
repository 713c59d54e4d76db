"""Request bodies to model inputs, checked against the feature contract (`lifecycle.features`).

Parsing is orjson on the raw body (it rejects NaN, Infinity and numbers that overflow a double);
the range check is one vectorised comparison against precomputed bound arrays. Every client mistake
raises `RequestError` with a 4xx status and a message naming the row and feature; nothing a client
sends can make the service answer 5xx.
"""

from collections.abc import Sequence
from itertools import chain
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson

from lifecycle.features import FEATURE_NAMES, FEATURES

MINIMA: Final = np.array([feature.minimum for feature in FEATURES], dtype=np.float64)
MAXIMA: Final = np.array([feature.maximum for feature in FEATURES], dtype=np.float64)
_WIDTH: Final = len(FEATURES)
_NAME_SET: Final = frozenset(FEATURE_NAMES)
_NUMBER_TYPES: Final = frozenset({int, float})

Matrix = npt.NDArray[np.float64]


class RequestError(Exception):
    """A client mistake: `status` (4xx), a metric `reason` and a message for the response body."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def parse_json(body: bytes) -> Any:
    """The JSON document of a body, or RequestError(422)."""
    if not body:
        raise RequestError(422, "invalid_json", "the request body is empty; send a JSON document")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RequestError(422, "invalid_json", f"the body is not valid JSON: {error}") from None


def instances_of(document: Any, max_rows: int) -> list[Any]:
    """The list of rows of a /predict document: `{"instances": [...]}` or a bare list of rows."""
    if isinstance(document, dict):
        if set(document) != {"instances"}:
            raise RequestError(
                422, "invalid_body", 'expected {"instances": [...]} (a list of rows) and no other keys'
            )
        rows = document["instances"]
    else:
        rows = document
    if not isinstance(rows, list):
        raise RequestError(422, "invalid_body", '"instances" must be a list of rows')
    if not rows:
        raise RequestError(422, "invalid_body", '"instances" is empty; send 1 or more rows')
    if len(rows) > max_rows:
        raise RequestError(
            422, "too_many_rows", f"{len(rows)} rows in one request; at most {max_rows} are accepted"
        )
    return rows


def _row_values(index: int, row: Any) -> Sequence[Any]:
    if isinstance(row, list):
        if len(row) != _WIDTH:
            raise RequestError(
                422,
                "invalid_row",
                f"instances[{index}] has {len(row)} values; expected {_WIDTH} in this order: "
                f"{', '.join(FEATURE_NAMES)}",
            )
        return row
    if isinstance(row, dict):
        if row.keys() != _NAME_SET:
            missing = sorted(_NAME_SET - row.keys())
            unknown = sorted(str(key) for key in row.keys() - _NAME_SET)
            parts = [
                f"missing {', '.join(missing)}" if missing else "",
                f"unknown {', '.join(unknown)}" if unknown else "",
            ]
            raise RequestError(
                422, "invalid_row", f"instances[{index}]: {'; '.join(part for part in parts if part)}"
            )
        return [row[name] for name in FEATURE_NAMES]
    raise RequestError(
        422,
        "invalid_row",
        f"instances[{index}] must be a list of {_WIDTH} numbers or an object keyed by feature name",
    )


def _numeric_lists(rows: list[Any]) -> Matrix | None:
    """The fast path, all in C: rows that are lists of JSON numbers only, converted in one call; None
    for anything else (objects, whose keys are strings; nested or non-numeric values; ragged rows),
    which the row-by-row path converts or rejects with a message naming the first mistake."""
    try:
        if not set(map(type, chain.from_iterable(rows))) <= _NUMBER_TYPES:
            return None
        matrix = np.array(rows, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):  # a row that is not a list, ragged rows
        return None
    return matrix if matrix.shape == (len(rows), _WIDTH) else None


def to_matrix(rows: list[Any]) -> Matrix:
    """Rows (lists in `FEATURE_NAMES` order or objects by name) as an (n, features) float64 array,
    every value a finite JSON number inside its feature's interval."""
    fast = _numeric_lists(rows)
    if fast is not None:
        return _in_range(fast)
    values = [_row_values(index, row) for index, row in enumerate(rows)]
    types = {type(value) for row in values for value in row}
    if not types <= _NUMBER_TYPES:
        for index, row in enumerate(values):
            for name, value in zip(FEATURE_NAMES, row, strict=True):
                if type(value) not in _NUMBER_TYPES:
                    raise RequestError(
                        422,
                        "invalid_value",
                        f"instances[{index}].{name} must be a number, got {_json_type(value)}",
                    )
    try:
        matrix = np.array(values, dtype=np.float64)
    except OverflowError:  # an integer too large for a double
        matrix = np.full((len(values), _WIDTH), np.inf)
        for index, row in enumerate(values):
            for column, value in enumerate(row):
                try:
                    matrix[index, column] = float(value)
                except OverflowError:
                    matrix[index, column] = np.inf
    return _in_range(matrix)


def _in_range(matrix: Matrix) -> Matrix:
    outside = ~((matrix >= MINIMA) & (matrix <= MAXIMA))  # NaN compares False: caught here too
    if outside.any():
        rows_bad, columns_bad = np.nonzero(outside)
        index, column = int(rows_bad[0]), int(columns_bad[0])
        feature = FEATURES[column]
        others = len(rows_bad) - 1
        more = f" ({others} more value{'s' if others != 1 else ''} out of range)" if others else ""
        raise RequestError(
            422,
            "out_of_range",
            f"instances[{index}].{feature.name} = {matrix[index, column]:g} is outside its valid range "
            f"[{feature.minimum:g}, {feature.maximum:g}]{more}",
        )
    return matrix


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", str: "a string", list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def parse_predict(body: bytes, max_rows: int) -> Matrix:
    """A /predict body as the model's input matrix (see `to_matrix`)."""
    return to_matrix(instances_of(parse_json(body), max_rows))


def parse_feedback(body: bytes, max_labels: int) -> list[tuple[str, int]]:
    """`{"labels": [{"request_id": str, "label": 0|1}, ...]}` as (request_id, label) pairs."""
    document = parse_json(body)
    if (
        not isinstance(document, dict)
        or set(document) != {"labels"}
        or not isinstance(document["labels"], list)
    ):
        raise RequestError(
            422, "invalid_body", 'expected {"labels": [{"request_id": "...", "label": 0 or 1}, ...]}'
        )
    labels = document["labels"]
    if not labels or len(labels) > max_labels:
        raise RequestError(
            422, "invalid_body", f'"labels" must hold 1 to {max_labels} entries, got {len(labels)}'
        )
    pairs: list[tuple[str, int]] = []
    for index, entry in enumerate(labels):
        if not isinstance(entry, dict) or set(entry) != {"request_id", "label"}:
            raise RequestError(
                422, "invalid_label", f'labels[{index}] must be an object with "request_id" and "label" only'
            )
        request_id, label = entry["request_id"], entry["label"]
        if not isinstance(request_id, str) or not 1 <= len(request_id) <= 128:
            raise RequestError(
                422, "invalid_label", f"labels[{index}].request_id must be a string of 1-128 characters"
            )
        if type(label) is not int or label not in (0, 1):
            raise RequestError(422, "invalid_label", f"labels[{index}].label must be 0 or 1")
        pairs.append((request_id, label))
    return pairs
