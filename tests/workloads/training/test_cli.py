"""Bad settings: exit 2 and one line on stderr, before anything heavy is imported or contacted."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.workloads.training.helpers import train


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--data", "missing.csv"], "TRAINING_DATA (--data): Path does not point to a file"),
        (["--data", "table.txt"], "TRAINING_DATA (--data): Value error, "),
        (
            ["--data", "table.csv", "--promotion-margin", "2"],
            "TRAINING_PROMOTION_MARGIN (--promotion-margin): Input should be less than or equal to 1",
        ),
        (["--data", "table.csv", "--seed", "abc"], "TRAINING_SEED (--seed): Input should be a valid integer"),
        (
            ["--data", "table.csv", "--trainer", "xgboost"],
            "invalid arguments: argument --trainer: invalid choice: 'xgboost'",
        ),
        (
            ["--data", "table.csv", "--registry-backoff-s", "9", "--registry-backoff-max-s", "2"],
            "registry_backoff_s (9) must not exceed registry_backoff_max_s (2)",
        ),
        ([], "TRAINING_DATA (--data): Field required"),
    ],
)
def test_bad_settings_exit_2_with_one_line(
    arguments: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "table.csv").write_text("amount\n1\n")
    (tmp_path / "table.txt").write_text("amount\n1\n")

    outcome = train(arguments)

    assert outcome.code == 2
    assert outcome.stdout == []
    assert outcome.stderr.count("\n") == 1 and outcome.stderr.startswith("training: ")
    assert message.removesuffix("Value error, ") in outcome.stderr


def test_environment_is_read_and_flags_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training.settings import load_settings  # noqa: PLC0415

    data = tmp_path / "t.parquet"
    data.write_bytes(b"")
    monkeypatch.setenv("TRAINING_DATA", str(data))
    monkeypatch.setenv("TRAINING_SEED", "5")
    monkeypatch.setenv("TRAINING_TRAINER", "torch")

    assert load_settings().seed == 5
    settings = load_settings(seed="9", trainer=None)
    assert settings.seed == 9 and settings.trainer == "torch"


def test_module_entry_point_exits_2_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "training", "--data", str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert (
        result.stderr
        == "training: invalid training settings: TRAINING_DATA (--data): Path does not point to a file\n"
    )
