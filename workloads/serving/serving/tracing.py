"""OpenTelemetry traces, configured only by the standard `OTEL_*` environment variables.

With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, spans go through a
batch processor to an OTLP/HTTP exporter; sampling follows `OTEL_TRACES_SAMPLER` /
`OTEL_TRACES_SAMPLER_ARG` (e.g. `parentbased_traceidratio` and `0.1`), the resource follows
`OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`. Without an endpoint, or with `OTEL_SDK_DISABLED=true`,
there is no tracer at all and the request path skips tracing entirely. The provider is private to
the app (not the global one), so several apps in one process do not share exporters.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass
class Tracing:
    """The app's tracer (None when tracing is off) and its provider, shut down with the app."""

    tracer: Tracer | None
    provider: TracerProvider | None

    def parent(self, traceparent: str | None, tracestate: str | None) -> Context | None:
        """The caller's span context from W3C headers, if it sent one."""
        if not traceparent:
            return None
        carrier: Mapping[str, str] = (
            {"traceparent": traceparent, "tracestate": tracestate}
            if tracestate
            else {"traceparent": traceparent}
        )
        return _PROPAGATOR.extract(carrier)

    def shutdown(self) -> None:
        """Flush queued spans and stop the exporter."""
        if self.provider is not None:
            self.provider.shutdown()


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for trace export."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(environ: Mapping[str, str] = os.environ) -> Tracing:
    """A tracer exporting over OTLP/HTTP when the environment names an endpoint, else none."""
    if not enabled(environ):
        return Tracing(None, None)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

    resource = Resource.create({SERVICE_NAME: environ.get("OTEL_SERVICE_NAME", "mlops-hub-serving")})
    provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_SAMPLER(_ARG)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return Tracing(provider.get_tracer("serving"), provider)
