"""How a judged `gate.vs_published` row reads in the plan, the comment and apply's output."""

from __future__ import annotations

import pytest

from edgeops.plan.candidates import vs_published_text


def _row(metric: str, lo: float, hi: float, *, max_drop: float = 0.01) -> dict[str, object]:
    improvement_hi = -lo if metric == "log_loss" else hi
    return {
        "metric": f"{metric} vs published",
        "value": improvement_hi,
        "bar": -max_drop,
        "ok": not improvement_hi < -max_drop,
        "interval": {"value": (lo + hi) / 2, "lo": lo, "hi": hi, "n": 17, "method": "bootstrap"},
        "kind": "vs_published",
    }


@pytest.mark.parametrize(
    ("metric", "lo", "hi", "reads"),
    [
        ("au_prc", -0.3, -0.1, "significantly worse than a drop of 0.01"),
        ("au_prc", -0.157, 0.0, "not significantly worse than a drop of 0.01, but the test "),
        ("au_prc", 0.0, 0.0, "not significantly worse than a drop of 0.01"),
        ("log_loss", 0.1, 0.3, "significantly worse than a drop of 0.01"),  # the loss rose
        ("log_loss", -0.05, 0.3, "not significantly worse than a drop of 0.01, but the test "),
    ],
)
def test_the_verdict_and_whether_the_split_can_tell(
    metric: str, lo: float, hi: float, reads: str
) -> None:
    text = vs_published_text(_row(metric, lo, hi))
    assert text.startswith(f"{metric} vs published {(lo + hi) / 2:+.3f} [{lo:+.3f}, {hi:+.3f}]")
    assert text.split(": ", 1)[1].startswith(reads)
    assert ("too small to tell" in text) is reads.endswith("test ")
