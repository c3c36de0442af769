"""Prometheus text exposition (format 0.0.4) for the server, without a client library.

Three families are enough to run the server: requests by route template and status, request
latency as a histogram per route, and models loaded. Route labels are templates
(``/v1/models/{name}:predict``), never raw paths, so label cardinality stays bounded.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sum: dict[str, float] = defaultdict(float)
        self._count: dict[str, int] = defaultdict(int)
        self.predictions: dict[str, int] = defaultdict(int)  # images classified, by model name
        self.arms: dict[tuple[str, str], int] = defaultdict(int)  # (served name, arm) -> requests

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, status)] += 1
            buckets = self._buckets.setdefault(route, [0] * len(LATENCY_BUCKETS))
            for i, le in enumerate(LATENCY_BUCKETS):
                if seconds <= le:
                    buckets[i] += 1
            self._sum[route] += seconds
            self._count[route] += 1

    def count_arm(self, model: str, arm: str) -> None:
        with self._lock:
            self.arms[(model, arm)] += 1

    def count_predictions(self, model: str, images: int) -> None:
        with self._lock:
            self.predictions[model] += images

    def render(self, gauges: dict[str, tuple[str, Callable[[], float]]]) -> str:
        """``gauges``: metric name -> (help, read function), sampled now."""
        lines = [
            "# HELP edgeops_http_requests_total HTTP requests by route template and status.",
            "# TYPE edgeops_http_requests_total counter",
        ]
        with self._lock:
            for (route, method, status), n in sorted(self.requests.items()):
                lines.append(
                    f'edgeops_http_requests_total{{route="{_esc(route)}",method="{method}",'
                    f'status="{status}"}} {n}'
                )
            lines += [
                "# HELP edgeops_http_request_duration_seconds Request latency by route template.",
                "# TYPE edgeops_http_request_duration_seconds histogram",
            ]
            for route in sorted(self._buckets):
                r = _esc(route)
                for le, n in zip(LATENCY_BUCKETS, self._buckets[route], strict=True):
                    lines.append(
                        f'edgeops_http_request_duration_seconds_bucket{{route="{r}",le="{le}"}} {n}'
                    )
                lines.append(
                    f'edgeops_http_request_duration_seconds_bucket{{route="{r}",le="+Inf"}} '
                    f"{self._count[route]}"
                )
                lines.append(
                    f'edgeops_http_request_duration_seconds_sum{{route="{r}"}} '
                    f"{self._sum[route]:.6f}"
                )
                lines.append(
                    f'edgeops_http_request_duration_seconds_count{{route="{r}"}} '
                    f"{self._count[route]}"
                )
            lines += [
                "# HELP edgeops_predictions_total Images classified, by served model name.",
                "# TYPE edgeops_predictions_total counter",
            ]
            for model, n in sorted(self.predictions.items()):
                lines.append(f'edgeops_predictions_total{{model="{_esc(model)}"}} {n}')
            lines += [
                "# HELP edgeops_rollout_requests_total Predict and download requests by served "
                "model name and rollout arm (stable or candidate).",
                "# TYPE edgeops_rollout_requests_total counter",
            ]
            for (model, arm), n in sorted(self.arms.items()):
                lines.append(
                    f'edgeops_rollout_requests_total{{model="{_esc(model)}",arm="{arm}"}} {n}'
                )
        for name, (help_text, read) in gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {read():g}"]
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
