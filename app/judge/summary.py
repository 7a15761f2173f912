"""End-of-run summary: counts, failures by reason, and mean/distribution per answer field."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from app.judge.results import Judgement

__all__ = ["RunSummary"]


@dataclass
class RunSummary:
    judged: int = 0
    ok: int = 0
    flagged: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    already_judged: int = 0
    malformed: int = 0
    duplicates: int = 0
    # Integer fields (criteria): every value, for mean and distribution. Other fields: value counts.
    numbers: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    labels: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, judgement: Judgement) -> None:
        self.judged += 1
        if judgement.answer is None:
            assert judgement.failure is not None
            self.failures[judgement.failure.reason] += 1
            return
        self.ok += 1
        self.flagged += bool(judgement.answer.flagged())
        for name, value in judgement.answer.fields().items():
            self._add_field(name, value)

    def _add_field(self, name: str, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            self.numbers[name][value] += 1
        elif isinstance(value, list):
            self.labels[name].update(str(v) for v in value)
            if not value:
                self.labels[name]["(none)"] += 1
        else:
            self.labels[name][str(value)] += 1

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def means(self) -> dict[str, float]:
        return {
            name: sum(v * n for v, n in counts.items()) / sum(counts.values())
            for name, counts in self.numbers.items()
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "judged": self.judged,
            "ok": self.ok,
            "failed": self.failed,
            "failures": dict(self.failures),
            "flagged": self.flagged,
            "already_judged": self.already_judged,
            "malformed": self.malformed,
            "duplicates": self.duplicates,
            "mean": self.means(),
            "distribution": {
                **{k: dict(sorted(v.items())) for k, v in self.numbers.items()},
                **{k: dict(v.most_common()) for k, v in self.labels.items()},
            },
        }

    def render(self) -> str:
        failures = ", ".join(f"{reason}: {n}" for reason, n in self.failures.most_common())
        lines = [
            f"judged {self.judged}: {self.ok} ok, {self.failed} failed"
            + (f" ({failures})" if failures else ""),
            f"flagged: {self.flagged}",
            f"skipped: {self.already_judged} already in the output, "
            f"{self.malformed} malformed input line(s), {self.duplicates} duplicate id(s)",
        ]
        means = self.means()
        width = max((len(n) for n in [*self.numbers, *self.labels]), default=0)
        for name, counts in self.numbers.items():
            distribution = " ".join(f"{value}:{n}" for value, n in sorted(counts.items()))
            lines.append(f"  {name:<{width}}  mean {means[name]:5.2f}  {distribution}")
        for name, counts in self.labels.items():
            distribution = ", ".join(f"{value}: {n}" for value, n in counts.most_common())
            lines.append(f"  {name:<{width}}  {distribution}")
        return "\n".join(lines)
