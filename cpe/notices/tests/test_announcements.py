"""通知公告 and maintenance notices (rules R2.4): who sees what, the banner before a window, the
503 during it (staff still work), and the rules' boundaries."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cpe.notices import policy, selectors
from cpe.notices.models import Announcement

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=dt_timezone.utc)


@pytest.mark.parametrize(
    "at, phase",
    [
        (T0 - policy.MAINTENANCE_BANNER_LEAD - timedelta(seconds=1), ""),
        (T0 - policy.MAINTENANCE_BANNER_LEAD, "upcoming"),
        (T0 - timedelta(seconds=1), "upcoming"),
        (T0, "active"),
        (T0 + timedelta(hours=2) - timedelta(seconds=1), "active"),
        (T0 + timedelta(hours=2), ""),
    ],
)
def test_maintenance_phase_boundaries(at, phase):
    assert policy.maintenance_phase(start=T0, end=T0 + timedelta(hours=2), at=at) == phase


def test_a_window_that_ends_before_it_starts_is_never_active():
    assert policy.maintenance_phase(start=T0, end=T0, at=T0) == ""


@pytest.mark.parametrize(
    "is_staff, path, blocked",
    [
        (False, "/accounts/dashboard/", True),
        (False, "/api/learning/sessions", True),
        (False, "/", True),
        (True, "/accounts/dashboard/", False),
        (False, "/admin/login/", False),
        (False, "/notices/3/", False),
        (False, "/orders/notify/alipay/", False),
        (False, "/static/css/site.css", False),
    ],
)
def test_who_the_maintenance_page_stops(is_staff, path, blocked):
    assert policy.maintenance_blocks(is_staff=is_staff, path=path) is blocked


@pytest.mark.parametrize(
    "audience, region, year, user_region, years, shown",
    [
        ("all", "", None, "", set(), True),
        ("region", "150200", None, "150200", set(), True),
        ("region", "150200", None, "150100", set(), False),
        ("region", "150200", None, "", set(), False),  # anonymous visitors: only "all"
        ("year_buyers", "", 7, "150200", {7}, True),
        ("year_buyers", "", 7, "150200", {6}, False),
    ],
)
def test_audience(audience, region, year, user_region, years, shown):
    assert (
        policy.audience_includes(
            audience=audience, region=region, year_id=year, user_region=user_region, user_year_ids=years
        )
        is shown
    )


@pytest.mark.parametrize(
    "fields, bad",
    [
        ({"kind": "maintenance", "audience": "all", "start": None, "end": None}, "maintenance_start"),
        ({"kind": "maintenance", "audience": "all", "start": T0, "end": T0}, "maintenance_end"),
        (
            {
                "kind": "maintenance",
                "audience": "region",
                "region": "150200",
                "start": T0,
                "end": T0 + timedelta(hours=1),
            },
            "audience",
        ),
        ({"kind": "notice", "audience": "region", "start": None, "end": None}, "region"),
        ({"kind": "notice", "audience": "year_buyers", "start": None, "end": None}, "year"),
        ({"kind": "notice", "audience": "all", "start": T0, "end": T0 + timedelta(hours=1)}, "kind"),
    ],
)
def test_incomplete_announcements_are_refused_per_field(fields, bad):
    errors = policy.announcement_errors(
        kind=fields["kind"],
        audience=fields["audience"],
        region=fields.get("region", ""),
        year_id=None,
        start=fields["start"],
        end=fields["end"],
    )
    assert bad in errors and all(isinstance(m, str) and m for m in errors.values())


def _notice(**kw):
    kw.setdefault("title", "关于 2026 年度继续教育的通知")
    kw.setdefault("body", "请于年底前完成学习。")
    kw.setdefault("published_at", timezone.now() - timedelta(hours=1))
    a = Announcement(**kw)
    a.full_clean()
    a.save()
    return a


def test_model_validation_uses_the_rules(db):
    with pytest.raises(ValidationError) as exc:
        Announcement(kind="maintenance", title="维护", body="x", audience="all").full_clean()
    assert "maintenance_start" in exc.value.message_dict


def test_who_sees_which_announcements(client, register_learner, django_user_model):
    from cpe.catalog.models import TrainingYear

    year = TrainingYear.objects.create(year=2026)
    everyone = _notice(title="全体通知")
    baotou = _notice(title="包头市通知", audience="region", region="150200")
    hohhot = _notice(title="呼和浩特市通知", audience="region", region="150100")
    buyers = _notice(title="2026 年度学员通知", audience="year_buyers", year=year)
    draft = Announcement.objects.create(title="草稿", body="x")
    later = _notice(title="明天发布", published_at=timezone.now() + timedelta(days=1))

    page = client.get("/notices/").content.decode()
    assert (
        everyone.title in page
        and baotou.title not in page
        and draft.title not in page
        and later.title not in page
    )
    assert client.get(f"/notices/{baotou.pk}/").status_code == 404

    learner = register_learner()  # region 150200 (包头市), has bought nothing
    client.force_login(learner)
    page = client.get("/notices/").content.decode()
    assert everyone.title in page and baotou.title in page
    assert hohhot.title not in page and buyers.title not in page
    assert client.get(f"/notices/{baotou.pk}/").status_code == 200
    assert client.get(f"/notices/{hohhot.pk}/").status_code == 404
    assert client.get(f"/notices/{draft.pk}/").status_code == 404


@pytest.fixture
def window(db):
    def make(start, end, published=None):
        return _notice(
            kind="maintenance",
            title="系统维护公告",
            maintenance_start=start,
            maintenance_end=end,
            published_at=published or timezone.now() - timedelta(days=5),
        )

    return make


def test_a_banner_before_the_window_and_a_503_during_it(client, register_learner, django_user_model, window):
    learner = register_learner()
    client.force_login(learner)
    now = timezone.now()
    notice = window(now + timedelta(days=1), now + timedelta(days=1, hours=2))
    page = client.get("/accounts/dashboard/")
    assert page.status_code == 200 and "系统维护预告" in page.content.decode()

    notice.maintenance_start, notice.maintenance_end = now - timedelta(minutes=5), now + timedelta(minutes=30)
    notice.save()
    page = client.get("/accounts/dashboard/")
    assert page.status_code == 503 and "系统维护中" in page.content.decode()
    assert 60 <= int(page["Retry-After"]) <= 30 * 60
    api = client.post("/api/learning/sessions", {}, content_type="application/json")
    assert api.status_code == 503 and api.json()["code"] == "maintenance"
    assert client.get(f"/notices/{notice.pk}/").status_code == 200  # the notice itself stays readable

    staff = django_user_model.objects.create_user("op", "x", is_staff=True, is_superuser=True, name="运营")
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200
    assert client.get("/").status_code == 200  # staff can still work


def test_a_window_blocks_even_before_its_notice_is_published_but_a_draft_never(client, window):
    now = timezone.now()
    notice = window(
        now - timedelta(minutes=5), now + timedelta(minutes=30), published=now + timedelta(hours=1)
    )
    assert client.get("/").status_code == 503
    Announcement.objects.filter(pk=notice.pk).update(published_at=None)
    selectors.forget_windows()
    assert client.get("/").status_code == 200


def test_saving_an_announcement_in_the_staff_site_is_audited(client, django_user_model):
    from cpe.core.models import AuditEvent

    staff = django_user_model.objects.create_user("op", "x", is_staff=True, is_superuser=True, name="运营")
    client.force_login(staff)
    start = timezone.localtime(timezone.now() + timedelta(days=2))
    r = client.post(
        "/admin/notices/announcement/add/",
        {
            "kind": "maintenance",
            "title": "系统升级维护",
            "body": "届时暂停服务。",
            "audience": "all",
            "region": "",
            "year": "",
            "published_at_0": timezone.localtime().strftime("%Y-%m-%d"),
            "published_at_1": timezone.localtime().strftime("%H:%M:%S"),
            "maintenance_start_0": start.strftime("%Y-%m-%d"),
            "maintenance_start_1": start.strftime("%H:%M:%S"),
            "maintenance_end_0": start.strftime("%Y-%m-%d"),
            "maintenance_end_1": start.strftime("%H:%M:%S"),
        },
    )
    assert (
        r.status_code == 200 and "维护结束时间须晚于开始时间" in r.content.decode()
    )  # refused, nothing saved
    assert (
        not Announcement.objects.exists()
        and not AuditEvent.objects.filter(event_type="announcement.saved").exists()
    )
    end = start + timedelta(hours=2)
    r = client.post(
        "/admin/notices/announcement/add/",
        {
            "kind": "maintenance",
            "title": "系统升级维护",
            "body": "届时暂停服务。",
            "audience": "all",
            "region": "",
            "year": "",
            "published_at_0": timezone.localtime().strftime("%Y-%m-%d"),
            "published_at_1": timezone.localtime().strftime("%H:%M:%S"),
            "maintenance_start_0": start.strftime("%Y-%m-%d"),
            "maintenance_start_1": start.strftime("%H:%M:%S"),
            "maintenance_end_0": end.strftime("%Y-%m-%d"),
            "maintenance_end_1": end.strftime("%H:%M:%S"),
        },
    )
    assert r.status_code == 302
    a = Announcement.objects.get()
    assert a.created_by == staff
    assert AuditEvent.objects.filter(event_type="announcement.saved").count() == 1


def test_a_years_buyers_see_its_announcements_by_the_years_the_caller_gives(register_learner):
    """notices does not know orders: the caller gives the learner's bought years, and is asked
    only when an announcement is for a year's buyers."""
    from cpe.catalog.models import TrainingYear

    learner = register_learner()
    asked = []

    def years_of(user):
        asked.append(user.pk)
        return {year.pk}

    everyone = _notice(title="全体通知")
    assert selectors.announcements_for(learner, timezone.now(), bought_year_ids=years_of) == [everyone]
    assert asked == []
    year = TrainingYear.objects.create(year=2026)
    buyers = _notice(title="2026 年度学员通知", audience="year_buyers", year=year)
    shown = selectors.announcements_for(learner, timezone.now(), bought_year_ids=years_of)
    assert buyers in shown and asked == [learner.pk]
    assert buyers not in selectors.announcements_for(learner, timezone.now(), bought_year_ids=lambda u: set())
