"""A hook: a named point where a lower app lets the apps above it act, without importing them
(docs/architecture.md, "How a lower app learns something from a higher one").

The lower app declares the hook in its own `hooks.py`; a higher app registers a function on it
from its AppConfig.ready(). Registering is idempotent by key, so a second ready() (tests) changes
nothing. `send` calls every function in `order` (lower first) and returns their results; `one`
is the single function a hook with one provider holds (an unfilled hook is a configuration
error, never a silent default).
"""

from typing import Callable

from django.core.exceptions import ImproperlyConfigured


class Hook:
    def __init__(self, name: str, *, single: bool = False):
        self.name = name
        self.single = single
        self._fns: dict[str, tuple[int, Callable]] = {}

    def register(self, key: str, fn: Callable, *, order: int = 0) -> None:
        if self.single and self._fns and key not in self._fns:
            raise ImproperlyConfigured(
                f"hook {self.name}: one provider only ({next(iter(self._fns))} registered)"
            )
        self._fns[key] = (order, fn)

    def keys(self) -> list[str]:
        return [key for key, _ in sorted(self._fns.items(), key=lambda kv: (kv[1][0], kv[0]))]

    def send(self, *args, **kwargs) -> list:
        return [self._fns[key][1](*args, **kwargs) for key in self.keys()]

    def one(self) -> Callable:
        if not self._fns:
            raise ImproperlyConfigured(f"hook {self.name}: no provider registered (INSTALLED_APPS?)")
        return next(iter(self._fns.values()))[1]

    def __call__(self, *args, **kwargs):
        """The single provider's answer (hooks declared with single=True)."""
        return self.one()(*args, **kwargs)
