"""Until when study counts for which year (one rule, shown on the product, the order and the
dashboard) and the dashboard's year planner: what is still missing and which courses fill it."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from cpe.accounts.tests.factories import sign_in_learner
from cpe.credits import policy
from cpe.exams.tests.factories import make_course, pass_course
from cpe.learning.tests.factories import complete_chapters
from cpe.orders.tests.factories import pay

SH = ZoneInfo("Asia/Shanghai")


# --- the rule ----------------------------------------------------------------------------------
def test_a_course_bought_in_december_counts_for_its_own_year_until_its_end_in_march():
    note = policy.study_year_note(course_year=2026, valid_until=date(2027, 3, 10), today=date(2026, 12, 10))
    assert "学时记入 2026 年度" in note and "有效期至 2027-03-10" in note
    assert "仍记入 2026 年度" in note and "不计入 2027 年度" in note and "不跨年度结转" in note


def test_a_course_ending_in_its_year_says_so_without_a_next_year():
    note = policy.study_year_note(course_year=2026, valid_until=date(2026, 9, 1), today=date(2026, 6, 3))
    assert "学时记入 2026 年度" in note and "2026-09-01" in note and "2027" not in note


def test_last_years_course_bought_in_the_new_year_never_counts_for_the_new_year():
    note = policy.study_year_note(course_year=2026, valid_until=date(2027, 3, 1), today=date(2027, 1, 2))
    assert "学时记入 2026 年度" in note and "不计入 2027 年度" in note


# --- the planner -------------------------------------------------------------------------------
def _status(prof, pub, required=90, prof_min=60):
    return policy.year_status(
        required_hours=required,
        professional_min_hours=prof_min,
        credits_per_hour=1,
        professional_hours=prof,
        public_hours=pub,
    )


def C(i, cat, hours, open_=True):
    return policy.PlanCourse(i, f"课{i}", policy.PROFESSIONAL if cat == "p" else policy.PUBLIC, hours, open_)


def test_plan_fills_professional_first_and_public_never_replaces_it():
    plan = policy.year_plan(
        _status(prof=20, pub=30), [C(1, "g", 30), C(2, "p", 24), C(3, "p", 24), C(4, "g", 10)]
    )
    # 40 missing, all professional: the two professional courses (48 h); no public course
    assert [c.course_id for c in plan.courses] == [2, 3]
    assert plan.shortfall_hours == 0 and plan.shortfall_professional == 0


def test_plan_then_fills_the_total_and_prefers_courses_already_open():
    plan = policy.year_plan(
        _status(prof=60, pub=0), [C(1, "g", 20, open_=False), C(2, "g", 20), C(3, "p", 12)]
    )
    assert [c.course_id for c in plan.courses] == [2, 3]  # 30 missing: 20 open + 12 open
    assert all(c.open_to_learner for c in plan.courses)


def test_plan_reports_a_shortfall_the_year_cannot_fill():
    plan = policy.year_plan(_status(prof=0, pub=0), [C(1, "p", 24), C(2, "g", 10)])
    assert [c.course_id for c in plan.courses] == [1, 2]
    assert plan.shortfall_professional == 36 and plan.shortfall_hours == 56


def test_a_complete_year_needs_nothing():
    plan = policy.year_plan(_status(prof=60, pub=30), [C(1, "p", 24)])
    assert plan.courses == () and plan.shortfall_hours == 0


# --- on the pages ------------------------------------------------------------------------------
@pytest.fixture
def december():
    with time_machine.travel(datetime(2026, 12, 10, 10, 0, tzinfo=SH), tick=True):
        yield


@pytest.mark.django_db
def test_dashboard_shows_the_plan_with_the_courses_that_fill_it(december, client, learner, year):
    done = make_course(year, "P0", hours=30, bank=False)
    prof = make_course(year, "P1", hours=30, bank=False)
    pub = make_course(year, "G1", category="public", hours=30, bank=False)
    pay(learner)
    complete_chapters(learner, done)
    from cpe.exams.tests.factories import make_bank

    make_bank(done)
    pass_course(learner, done)
    sign_in_learner(client, learner)
    html = client.get(reverse("accounts:dashboard")).content.decode()
    section = html[html.index('id="year-plan"') :]
    section = section[: section.index("</section>")]
    assert "2026 年度学习计划" in section and "还需 60 学时，其中专业科目 30 学时" in section
    assert prof.title in section and pub.title in section and done.title not in section
    assert reverse("learning:course", args=[prof.pk]) in section and "去学习" in section
    # the enrolment's line says which year its hours count for and that they do not carry over
    assert "学时记入 2026 年度" in html and "不计入 2027 年度" in html


@pytest.mark.django_db
def test_dashboard_plan_offers_to_buy_when_nothing_is_open(december, client, learner, year):
    make_course(year, "P1", hours=30, bank=False)
    sign_in_learner(client, learner)
    html = client.get(reverse("accounts:dashboard")).content.decode()
    section = html[html.index('id="year-plan"') :]
    section = section.split("</section>")[0]
    assert (
        "课程P1" in section
        and "需购买" in section
        and "查看课程目录并购买" in section
        and "去学习" not in section
    )
    assert "本平台 2026 年度现有课程仍差 60 学时" in section


@pytest.mark.django_db
def test_product_and_order_pages_say_which_year_the_hours_count_for(december, client, learner, year):
    sign_in_learner(client, learner)
    for url in (reverse("catalog:catalog"), reverse("orders:buy", args=["2026-ANNUAL"])):
        html = client.get(url).content.decode()
        assert (
            "学时记入 2026 年度" in html and "有效期至 2027-03-10" in html and "不计入 2027 年度" in html
        ), url
    pay(learner)
    html = client.get(reverse("orders:list")).content.decode()
    assert "学时记入 2026 年度" in html and "不计入 2027 年度" in html
