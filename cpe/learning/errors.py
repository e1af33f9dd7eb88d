from cpe.core import redis_wire
from cpe.core.errors import ApplicationError


class LearningError(ApplicationError):
    """A refused learning action; nothing was credited or changed. `status` is the HTTP status
    the API answers with (each one declared in the OpenAPI schema)."""

    STATUS = {
        "not_enrolled": 403,
        "expired": 403,
        "closed": 403,
        "not_started": 403,
        "on_hold": 403,
        "not_learner": 403,
        "no_video": 409,
        "superseded": 409,
        "ended": 409,
        "no_check": 409,
        "bad_check": 400,
        "no_session": 404,
        "no_chapter": 404,
        "banned": 403,
        "terminated": 403,
        "account_closed": 403,
        "session_elsewhere": 401,
        "unbound": 401,
        "unavailable": 503,  # the play state's Redis cannot be reached (hotpath._needs_redis)
    }

    # Seconds after which a refusal may be asked again (the Retry-After header of the answer):
    # a Redis restart takes seconds; the player waits at least this long, then backs off.
    RETRY_AFTER = {"unavailable": redis_wire.RETRY_AFTER_SECONDS}

    @property
    def status(self) -> int:
        return self.STATUS.get(self.code, 400)

    @property
    def retry_after(self) -> int | None:
        return self.RETRY_AFTER.get(self.code)
