"""Generated heartbeat bodies (outside input: the player's reports). The front door
(config/hotpath_wsgi.py) reads the raw body itself: whatever the bytes, it answers one of the
statuses the documented route declares (or 413 for an oversized body), never a server error; and
its validation accepts exactly what the ninja route (BeatIn) accepts for well-formed numbers."""

import io
import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from cpe.learning import hotpath

from .test_hotpath import REDIS_URL, WEB_SESSION, _start

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not REDIS_URL, reason="the hot path needs Redis: set REDIS_URL (CI does)"),
]
FUZZ = hsettings(
    max_examples=200, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["seq", "start", "position", "x"]), inner, max_size=4)
    ),
    max_leaves=12,
)
DEEP = b"[" * 3000  # past the json module's recursion limit


@FUZZ
@given(JSON)
@example({"seq": 2.0, "start": 0, "position": 1})
@example({"seq": 1, "start": float("nan"), "position": 1})
def test_validation_never_raises(data):
    from config.hotpath_wsgi import hotpath_validate

    errors = hotpath_validate(data)
    assert isinstance(errors, list)
    if not errors:
        assert int(data["seq"]) >= 1 and 0 <= data["start"] <= 86400 and 0 <= data["position"] <= 86400


def test_an_integral_float_seq_is_an_integer():
    # Regression (found by schemathesis): {"seq": 2.0} is a JSON Schema integer and the ninja
    # route accepts it; the front door refused it with 422.
    from config.hotpath_wsgi import hotpath_validate

    assert hotpath_validate({"seq": 2.0, "start": 0, "position": 1}) == []
    assert hotpath_validate({"seq": 2.5, "start": 0, "position": 1})


def test_seq_fits_the_database_column():
    # Regression: the front door accepted seq 2**31 and the ninja route any size; on the ORM path
    # seq 2**40 was a 500 (DataError: integer out of range; last_seq is a 32-bit column).
    from config.hotpath_wsgi import hotpath_validate

    assert hotpath_validate({"seq": 2**31 - 1, "start": 0, "position": 1}) == []
    assert hotpath_validate({"seq": 2**31, "start": 0, "position": 1})


@pytest.mark.parametrize("path", ["orm", "redis"])
def test_huge_seq_is_a_validation_error_on_both_paths(signed_in, chapter, enrolment, settings, hot, path):
    settings.LEARNING_HOTPATH = path
    key = signed_in.post(
        "/api/learning/sessions", {"chapter_id": chapter.pk}, content_type="application/json"
    ).json()["session"]
    signed_in.raise_request_exception = False
    r = signed_in.post(
        f"/api/learning/sessions/{key}/heartbeat",
        {"seq": 2**40, "start": 0, "position": 1},
        content_type="application/json",
    )
    assert r.status_code == 422


@pytest.fixture
def front_door(hot, learner, chapter, enrolment, settings):
    from django.core.signals import request_finished
    from django.db import close_old_connections
    from django.utils import timezone

    from config.hotpath_wsgi import wrap

    settings.ALLOWED_HOSTS = ["testserver"]
    s = _start(learner, chapter, timezone.now() - timedelta(seconds=40))
    request_finished.disconnect(close_old_connections)  # as the test client: keep the test's transaction
    try:
        yield wrap(lambda environ, start_response: []), s.key, hotpath.play_token(s.key)
    finally:
        request_finished.connect(close_old_connections)


def _post(app, key, token, raw: bytes) -> int:
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/api/learning/sessions/{key}/heartbeat",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "10.0.0.1",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "testserver",
        "HTTP_X_PLAY_TOKEN": token,
        "HTTP_COOKIE": f"sessionid={WEB_SESSION}",
    }
    got = {}
    body = b"".join(app(env, lambda status, headers: got.update(status=status)))
    json.loads(body)  # always a JSON answer
    return int(got["status"][:3])


def test_deeply_nested_body_is_a_bad_request(front_door):
    # Regression: "[[[[..." raised RecursionError in json.loads (not a ValueError): a 500.
    app, key, token = front_door
    assert _post(app, key, token, DEEP) == 400


def test_integral_float_seq_is_credited(front_door):
    app, key, token = front_door
    assert _post(app, key, token, b'{"seq": 1.0, "start": 0, "position": 30}') == 200


@FUZZ
@given(raw=st.binary(max_size=300) | JSON.map(lambda d: json.dumps(d).encode()))
@example(raw=DEEP)
@example(raw=b'{"seq": 1e400, "start": 0, "position": 1}')
@example(raw=b"\xff\xfe")
def test_any_body_gets_a_declared_answer(front_door, raw):
    app, key, token = front_door
    assert _post(app, key, token, raw) in {200, 400, 401, 403, 404, 409, 413, 422}
