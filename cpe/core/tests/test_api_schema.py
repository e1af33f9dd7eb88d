"""The JSON API against generated input (schemathesis over /api/openapi.json, in-process through
the production WSGI application, config.wsgi, so the heartbeat's front door is exercised too).

Every operation is called with schema-conforming (positive) and schema-violating (negative)
input, anonymously and as a signed-in learner (session cookie, CSRF cookie and header, and the
play token of a real play session), and every answer must be: not a server error, a status the
schema declares for the operation, with the declared content type and body shape.

Bounded for `make test`: a fixed number of examples per operation and mode, derandomized (the
same inputs on every run)."""

import os

import pytest
import schemathesis
from django.middleware.csrf import _get_new_csrf_string
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Transactional: each in-process WSGI request ends with Django's request_finished, which closes
# the database connection (impossible inside a test's wrapping transaction).
pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25


@pytest.fixture
def schema(settings):
    settings.API_DOCS_PUBLIC = True
    from config.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@pytest.fixture
def chapter(annual):
    from cpe.catalog.models import Chapter, Course

    return Chapter.objects.create(
        course=Course.objects.get(code="C1"), position=1, title="收入准则", duration_seconds=120
    )


@pytest.fixture
def learner_auth(client, settings, learner, paid_order, chapter):
    """(cookies, headers, play session key) of a learner signed in as the account's one current
    session, with a play session started through the API."""
    from cpe.accounts.models import User
    from cpe.core.crypto import blind_index

    client.force_login(learner)
    session_key = client.session.session_key
    User.objects.filter(pk=learner.pk).update(session_key_hash=blind_index("session_key", session_key))
    csrf = _get_new_csrf_string()
    cookies = {settings.SESSION_COOKIE_NAME: session_key, settings.CSRF_COOKIE_NAME: csrf}
    headers = {"X-CSRFToken": csrf}
    client.cookies[settings.CSRF_COOKIE_NAME] = csrf
    r = client.post(
        "/api/learning/sessions", {"chapter_id": chapter.pk}, content_type="application/json", headers=headers
    )
    assert r.status_code == 201, r.content
    body = r.json()
    return cookies, {**headers, "X-Play-Token": body["token"]}, body["session"]


def _operations(schema):
    ops = [result.ok() for result in schema.get_all_operations()]
    # "end" last: it closes the learner's play session the other operations use.
    return sorted(ops, key=lambda op: op.path.endswith("/end"))


def _run(operation, mode, **strategy_kwargs):
    call = strategy_kwargs.pop("call", {})

    @hsettings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, **strategy_kwargs))
    def run(case):
        case.call_and_validate(checks=CHECKS, **call)

    try:
        run()
    except Unsatisfiable:
        # Negative mode on an operation whose only inputs are free strings (the play session key
        # of "end"): no input violates the schema, so there is nothing to send.
        if mode is not GenerationMode.NEGATIVE:
            raise


def test_schema_lists_the_learning_api(schema):
    paths = {op.path for op in _operations(schema)}
    assert "/api/learning/sessions/{key}/heartbeat" in paths and len(paths) >= 4


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_anonymous(schema, mode):
    for operation in _operations(schema):
        _run(operation, mode)


@pytest.fixture(params=["orm", "redis"])
def learning_path(request, settings):
    """The heartbeat judged on the database (ORM) path, and on the Redis hot path when Redis is there."""
    if request.param == "redis" and not os.environ.get("REDIS_URL"):
        pytest.skip("the hot path needs Redis: set REDIS_URL (CI does)")
    settings.LEARNING_HOTPATH = request.param
    return request.param


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_as_learner(schema, learning_path, learner_auth, mode):
    cookies, headers, key = learner_auth
    for operation in _operations(schema):
        _run(operation, mode, call={"headers": headers, "cookies": cookies})
        if "{key}" in operation.path:
            # The learner's own play session: the requests get past authentication to the rules.
            _run(operation, mode, path_parameters={"key": key}, call={"headers": headers, "cookies": cookies})


@pytest.mark.parametrize("raw", [b"[" * 3000, b"\x00", b'{"seq": 1'])
def test_unparseable_bodies_are_declared_answers(schema, learner_auth, raw):
    # Bodies schemathesis does not generate: not JSON, or nested past the json module's depth.
    from django.test import Client

    cookies, headers, key = learner_auth
    c = Client()
    for name, value in cookies.items():
        c.cookies[name] = value
    csrf = {"X-CSRFToken": headers["X-CSRFToken"]}
    for path in ("/api/learning/sessions", f"/api/learning/sessions/{key}/heartbeat"):
        r = c.post(path, raw, content_type="application/json", headers=csrf)
        assert r.status_code in (400, 422), (path, r.status_code, r.content[:200])
