"""`python -m serving`: the prediction service under uvicorn (uvloop, httptools), settings from the
environment. Exit 2 on bad settings or an unusable API keys file."""

import sys

import uvicorn

from lifecycle.logs import configure_logging
from lifecycle.retry import bound_mlflow_http
from serving.app import create_app
from serving.auth import ApiKeyFileError
from serving.settings import SettingsError, load_settings

REGISTRY_REQUEST_TIMEOUT_S = 10


def main() -> int:
    """Run until SIGTERM/SIGINT (uvicorn shuts down gracefully: capture is flushed)."""
    try:
        settings = load_settings()
    except SettingsError as error:
        print(str(error), file=sys.stderr)
        return 2
    configure_logging(("serving", "uvicorn", "uvicorn.error"), settings.log_level)
    if settings.api_keys_file is None:
        print("invalid serving settings: SERVING_API_KEYS_FILE must name the API keys file", file=sys.stderr)
        return 2
    # One bounded attempt per registry request: the reload loop owns retries and backoff.
    bound_mlflow_http(REGISTRY_REQUEST_TIMEOUT_S)
    options = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_config": None,
        "timeout_graceful_shutdown": 10,
    }
    if settings.workers > 1:
        uvicorn.run("serving.app:app_factory", factory=True, workers=settings.workers, **options)  # type: ignore[arg-type]
        return 0
    try:
        app = create_app(settings, tune_gc=True)
    except ApiKeyFileError as error:
        print(f"invalid serving settings: {error}", file=sys.stderr)
        return 2
    uvicorn.run(app, **options)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
