"""Faults the simulator can be told to inject into /api/ requests.

A rule: {"mode": "slow" | "429" | "500" | "503" | "drop",
         "count": N            (apply to the next N matching requests; default 1),
         "rate": 0.0-1.0       (instead of count: apply to that fraction, until cleared),
         "path": "/api/v1/credits"   (optional prefix filter; default every /api/ path),
         "method": "POST"      (optional),
         "delay": seconds      (slow: how long to wait; default 5),
         "retry_after": seconds (429: the Retry-After header; default 1),
         "after_processing": bool (slow/drop: do the work first, then wait / drop; default:
                                   slow true, drop false)}

Rules are tried in the order they were added; the first that matches and fires decides.
Faults 429/500/503 and a drop before processing happen before authentication, as a proxy or
an overloaded server would answer: no nonce is used up and nothing is recorded.
"""

import random
import threading
from dataclasses import dataclass, field

MODES = {"slow", "429", "500", "502", "503", "drop"}


@dataclass
class Fault:
    mode: str
    count: int | None = 1
    rate: float | None = None
    path: str = ""
    method: str = ""
    delay: float = 5.0
    retry_after: int = 1
    after_processing: bool = False
    fired: int = 0

    def as_dict(self):
        return {
            k: getattr(self, k)
            for k in (
                "mode",
                "count",
                "rate",
                "path",
                "method",
                "delay",
                "retry_after",
                "after_processing",
                "fired",
            )
        }


def parse_fault(data: dict) -> Fault:
    if not isinstance(data, dict):
        raise ValueError("a fault is a JSON object")
    mode = str(data.get("mode", ""))
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}")
    rate = data.get("rate")
    if rate is not None:
        rate = float(rate)
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
    count = data.get("count", None if rate is not None else 1)
    if count is not None:
        count = int(count)
        if count < 1:
            raise ValueError("count must be >= 1")
    return Fault(
        mode=mode,
        count=count,
        rate=rate,
        path=str(data.get("path", "")),
        method=str(data.get("method", "")).upper(),
        delay=float(data.get("delay", 5.0)),
        retry_after=int(data.get("retry_after", 1)),
        after_processing=bool(data.get("after_processing", mode == "slow")),
    )


@dataclass
class FaultBook:
    rules: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random = field(default_factory=random.Random)

    def add(self, fault: Fault):
        with self._lock:
            self.rules.append(fault)

    def clear(self):
        with self._lock:
            self.rules.clear()

    def listing(self):
        with self._lock:
            return [f.as_dict() for f in self.rules]

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if one fires (a count-limited rule is used up)."""
        with self._lock:
            for fault in list(self.rules):
                if fault.path and not path.startswith(fault.path):
                    continue
                if fault.method and fault.method != method:
                    continue
                if fault.rate is not None and fault.count is None:
                    if self._rng.random() >= fault.rate:
                        continue
                elif fault.rate is not None and self._rng.random() >= fault.rate:
                    continue
                fault.fired += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.rules.remove(fault)
                return fault
        return None
