"""Result lines of both formats for the report tests."""

from __future__ import annotations

import json
from typing import Any

SAFE = {"reasoning": "Benign.", "verdict": "safe", "severity": "none", "categories": []}


def unsafe(severity: str = "high", *categories: str, reasoning: str = "Leaks a key.") -> dict[str, Any]:
    return {
        "reasoning": reasoning,
        "verdict": "unsafe",
        "severity": severity,
        "categories": list(categories or ("secret_leakage",)),
    }


def ok(record_id: str, answer: dict[str, Any], source: str = "web") -> dict[str, Any]:
    """A collect result line with an answer (flagged as collect computes it)."""
    flagged = answer.get("verdict") == "unsafe" or answer.get("scores", {}).get("safety", 10) <= 4
    return {"id": record_id, "source": source, "status": "ok", "flagged": flagged, "answer": answer}


def failed(
    record_id: str, status: str = "failed", reason: str = "vertex_error", source: str = "web"
) -> dict[str, Any]:
    return {
        "id": record_id,
        "source": source,
        "status": status,
        "reason": reason,
        "error": f"{reason} detail",
    }


def run_ok(record_id: str | int, scores: dict[str, Any], reasoning: str = "r") -> dict[str, Any]:
    """An ``app.judge run`` output line."""
    score = scores.get("overall")
    return {
        "id": record_id,
        "status": "ok",
        "score": score,
        "scores": scores,
        "reasoning": reasoning,
        "error": None,
        "model": "m",
        "latency_ms": 1.0,
    }


def run_error(record_id: str | int, reason: str = "timeout") -> dict[str, Any]:
    return {
        "id": record_id,
        "status": "error",
        "score": None,
        "scores": None,
        "reasoning": None,
        "error": f"{reason}: the request timed out",
        "model": "m",
        "latency_ms": 1.0,
    }


def criteria(overall: int, safety: int = 9, **others: int) -> dict[str, int]:
    base = {
        "accuracy": 7,
        "relevance": 7,
        "helpfulness": 7,
        "safety": safety,
        "pleasing": 7,
        "overall": overall,
    }
    return {**base, **others}


def lines(*items: dict[str, Any]) -> list[bytes]:
    return [json.dumps(item).encode() for item in items]
