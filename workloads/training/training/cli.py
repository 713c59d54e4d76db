"""`python -m training --data PATH [options]`: one training run, as the lifecycle contract describes.

Exit codes: 0 trained (promoted or not), 1 data rejected, 2 bad settings, 3 registry unavailable or
refusing, 4 a bug (its traceback is in the JSON log on stderr). Expected failures print one line on stderr (`training: ...`), never a traceback; stdout
carries the events (unless `--events` names a file) and, last, one JSON summary line.
"""

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from training.settings import SettingsError, Trainer, TrainingSettings, load_settings

EXIT_OK = 0
EXIT_DATA_REJECTED = 1
EXIT_BAD_SETTINGS = 2
EXIT_REGISTRY = 3
EXIT_INTERNAL = 4

# Flag → settings field; every flag defaults to None so the environment applies when it is absent.
_FLAGS: dict[str, str] = {
    "--data": "data",
    "--tracking-uri": "tracking_uri",
    "--model-name": "model_name",
    "--experiment": "experiment",
    "--promotion-margin": "promotion_margin",
    "--max-invalid-share": "max_invalid_share",
    "--quarantine-dir": "quarantine_dir",
    "--events": "events_path",
    "--seed": "seed",
    "--eval-data": "eval_data",
    "--holdout-share": "holdout_share",
    "--n-estimators": "n_estimators",
    "--max-depth": "max_depth",
    "--torch-epochs": "torch_epochs",
    "--registry-retry-s": "registry_retry_s",
    "--registry-backoff-s": "registry_backoff_s",
    "--registry-backoff-max-s": "registry_backoff_max_s",
    "--registry-timeout-s": "registry_timeout_s",
    "--log-level": "log_level",
}


class _ArgumentsError(ValueError):
    pass


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse would print the usage block and exit; the contract is one line per expected failure.
        raise _ArgumentsError(f"invalid arguments: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    """The command line; values are validated by `TrainingSettings`, not here."""
    parser = _OneLineParser(
        prog="python -m training",
        description="Validate a training table, train a fraud model, register it and promote it when it wins.",
    )
    for flag, name in _FLAGS.items():
        field = TrainingSettings.model_fields[name]
        parser.add_argument(flag, dest=name, default=None, metavar=name.upper(), help=field.description)
    parser.add_argument(
        "--trainer",
        dest="trainer",
        default=None,
        choices=[trainer.value for trainer in Trainer],
        help="learner",
    )
    return parser


def _quiet_environment() -> None:
    # No phone-home from MLflow or anything else; the workload's network is the registry only.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def main(argv: Sequence[str] | None = None) -> int:
    """Run once; returns the exit code."""
    _quiet_environment()
    try:
        arguments = build_parser().parse_args(argv)
        settings = load_settings(**vars(arguments))
    except SystemExit as done:  # --help
        return int(done.code or 0)
    except (_ArgumentsError, SettingsError) as error:
        print(f"training: {error}", file=sys.stderr)
        return EXIT_BAD_SETTINGS

    # Heavy imports (MLflow, scikit-learn, pandas) after the settings are known to be good.
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    from lifecycle.events import EventLog, EventType  # noqa: PLC0415
    from lifecycle.logs import configure_logging  # noqa: PLC0415
    from lifecycle.retry import RegistryUnavailableError, one_line, redact  # noqa: PLC0415
    from training.data import DataRejectedError  # noqa: PLC0415
    from training.pipeline import run  # noqa: PLC0415

    # MLflow's INFO lines are progress messages, not events.
    configure_logging(("training",), settings.log_level, quiet=("mlflow", "alembic"))
    events = EventLog(settings.events_path, echo=sys.stdout if settings.events_path is None else None)
    try:
        summary = run(settings, events)
    except DataRejectedError as error:
        print(f"training: data rejected: {error}", file=sys.stderr)
        return EXIT_DATA_REJECTED
    except RegistryUnavailableError as error:
        uri = redact(settings.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", "(MLflow default)"))
        events.emit(EventType.DEPENDENCY_UNAVAILABLE, dependency="mlflow", uri=uri, error=str(error))
        print(f"training: registry unavailable at {uri}: {error}", file=sys.stderr)
        return EXIT_REGISTRY
    except MlflowException as error:
        print(f"training: registry error: {one_line(error)}", file=sys.stderr)
        return EXIT_REGISTRY
    except Exception as error:
        logging.getLogger("training").exception("training failed unexpectedly")
        print(f"training: internal error ({type(error).__name__}): {one_line(error)}", file=sys.stderr)
        return EXIT_INTERNAL
    print(json.dumps(summary.to_dict(), default=str), flush=True)
    return EXIT_OK
