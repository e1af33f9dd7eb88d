"""A per-process memo of a small, rarely changing table read on every request (maintenance
windows, bans, agreement versions): re-read at most every `seconds`, and at once after a save or
delete of `model` in this process (other processes see a change within `seconds`).

A save inside a transaction forgets the rows twice: at once, and again when the transaction
commits. Without the second, another thread of this process could re-read the table between the
save and the commit, memoise the rows without the change, and keep them for `seconds`.

Every memo registers itself in `MEMOS`, so that whoever must reset them all (the test suite,
between tests whose rows vanish by a rollback that sends no signal) names the registry and not
each app's memo: `know_none()` and `forget_all()`."""

import threading
import time

from django.db import transaction
from django.db.models.signals import post_delete, post_save

MEMOS: list["ProcessMemo"] = []  # every memo of this process, in the order they were made


def forget_all():
    """Every memo reads its table again on its next use."""
    for memo in MEMOS:
        memo.forget()


def know_none():
    """Every memo knows no row until a save or delete of its model, or `seconds`, makes it read
    (true of an empty database: the test suite starts each test so)."""
    for memo in MEMOS:
        memo.known(())


class ProcessMemo:
    def __init__(self, *, seconds: float, load, model, name: str):
        self.seconds, self.load, self.name = seconds, load, name
        self.rows, self.fetched = (), -1e9
        self.lock = threading.Lock()
        MEMOS.append(self)
        post_save.connect(self._changed, sender=model, dispatch_uid=f"{name}.save", weak=False)
        post_delete.connect(self._changed, sender=model, dispatch_uid=f"{name}.delete", weak=False)

    def get(self) -> tuple:
        now = time.monotonic()
        if now - self.fetched > self.seconds:
            with self.lock:
                if now - self.fetched > self.seconds:
                    self.rows, self.fetched = tuple(self.load()), now
        return self.rows

    def forget(self, **kwargs):
        self.fetched = -1e9

    def _changed(self, using=None, **kwargs):
        self.forget()
        transaction.on_commit(self.forget, using=using)  # runs at once outside a transaction

    def known(self, rows=()):
        """Set what this process knows (tests start from "none", so that a page's query count
        does not depend on when the memo was last read)."""
        self.rows, self.fetched = tuple(rows), time.monotonic()
