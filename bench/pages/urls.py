"""bench/pages' routes: the platform, the trivial view /bench/hello/ (bench/heartbeat/urls.py),
and /bench/page-floor/: the least a signed-in learner's page can cost on this platform.

The floor is a real page as far as the platform goes: the same middleware (a signed-in
learner, the agreement gate, the session checks), the same layout (templates/base.html, its
context processors and fixed fragments, the CSRF token), one statement reading the learner's
own rows (their enrolments, the cheapest way: a cursor, no ORM, no row conversion) and a
content block of two lines. Every real page does at least this, so no real page can be
cheaper than the floor; the distance between the two is what the pages themselves add (their
further statements, their views' Python, their templates)."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse
from django.template import engines
from django.urls import path

from bench.heartbeat.urls import urlpatterns as heartbeat
from cpe.learning.models import Enrolment

_FLOOR = engines["django"].from_string(
    '{% extends "base.html" %}{% block title %}基准{% endblock %}'
    "{% block content %}<h1>您好，{{ user.name }}</h1><p>课程记录 {{ count }} 条</p>{% endblock %}"
)
_SQL = f"SELECT id FROM {Enrolment._meta.db_table} WHERE user_id = %s"


@login_required
def page_floor(request):
    with connection.cursor() as cursor:
        cursor.execute(_SQL, [request.user.pk])
        count = len(cursor.fetchall())
    return HttpResponse(_FLOOR.render({"count": count}, request))


urlpatterns = [path("bench/page-floor/", page_floor), *heartbeat]
