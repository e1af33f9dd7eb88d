"""The exam pages as a learner uses them; the question bank import as an editor uses it."""

import io
import json
import re

import pytest
from django.urls import reverse

from cpe.credits.models import CreditRecord
from cpe.exams import importer
from cpe.exams.models import Attempt, Question
from cpe.learning.tests.factories import complete_chapters

pytestmark = pytest.mark.django_db


def _login(client, user):
    from django.utils import timezone

    from cpe.agreements import selectors as agreement_selectors

    client.force_login(user, backend="cpe.accounts.auth.IdentifierBackend")
    s = client.session
    s["agreement_ok"] = agreement_selectors.required_major_id(timezone.now())
    s.save()


def test_course_page_says_what_is_missing_then_links_the_exam(client, learner, course, paid):
    _login(client, learner)
    html = client.get(reverse("learning:course", args=[course.pk])).content.decode()
    assert (
        "还有 2 个章节未学完" in html
        and "1. 第1章" in html
        and reverse("exams:home", args=[course.pk]) not in html
    )
    # The closed button reads as closed (aria-disabled, styled so) and says why.
    assert (
        '<span class="button" role="link" aria-disabled="true" aria-describedby="exam-closed-reason">' in html
    )
    assert 'id="exam-closed-reason" role="note">还有 2 个章节未学完，全部章节学完后才能考试。' in html
    home = client.get(reverse("exams:home", args=[course.pk])).content.decode()
    assert "暂不能考试" in home and "已学完 0 / 2" in home
    assert client.post(reverse("exams:start", args=[course.pk])).status_code == 403
    complete_chapters(learner, course)
    html = client.get(reverse("learning:course", args=[course.pk])).content.decode()
    assert reverse("exams:home", args=[course.pk]) in html and "【我要考试】" in html


def test_take_the_exam_autosave_reload_submit_result(client, learner, course, paid):
    complete_chapters(learner, course)
    _login(client, learner)
    resp = client.post(reverse("exams:start", args=[course.pk]))
    attempt = Attempt.objects.get()
    assert resp.url == reverse("exams:attempt", args=[attempt.pk])
    page = client.get(resp.url).content.decode()
    assert page.count('class="q"') == 30 and 'id="countdown"' in page and 'data-seconds="3' in page
    item = attempt.items.select_related("question").get(position=1)
    saved = client.post(
        reverse("exams:save", args=[attempt.pk]), {"position": 1, "chosen": item.question.answer}
    )
    assert saved.status_code == 200 and json.loads(saved.content)["ok"]
    # A reload shows the saved answer checked.
    page = client.get(resp.url).content.decode()
    assert re.search(rf'name="q1" value="{item.question.answer[0]}" checked', page)
    # Submit with everything right (the form posts every answer).
    data = {f"q{i.position}": i.question.answer for i in attempt.items.select_related("question")}
    done = client.post(reverse("exams:submit", args=[attempt.pk]), data)
    assert done.url == reverse("exams:result", args=[attempt.pk])
    result = client.get(done.url).content.decode()
    assert "100 分" in result and "合格" in result and "已记载 24 学时" in result
    assert CreditRecord.objects.count() == 1
    # The attempt page now goes to the result; a save is refused.
    assert client.get(resp.url).url == done.url
    late = client.post(reverse("exams:save", args=[attempt.pk]), {"position": 2, "chosen": [0]})
    assert late.status_code == 409 and json.loads(late.content)["code"] == "submitted"


def test_someone_elses_attempt_is_404(client, learner, course, paid, register_learner):
    complete_chapters(learner, course)
    _login(client, learner)
    client.post(reverse("exams:start", args=[course.pk]))
    attempt = Attempt.objects.get()
    other = register_learner(name="王五")
    _login(client, other)
    assert client.get(reverse("exams:attempt", args=[attempt.pk])).status_code == 404
    assert (
        client.post(reverse("exams:save", args=[attempt.pk]), {"position": 1, "chosen": [0]}).status_code
        == 404
    )


def test_submitted_form_is_the_whole_paper(client, learner, course, paid, register_learner):
    """The form posts every answer: a question it sends nothing for is unanswered, even if an
    earlier autosave had an answer for it. Fields that are not questions are ignored. Someone
    else's submission is a 404 and changes nothing."""
    complete_chapters(learner, course)
    _login(client, learner)
    client.post(reverse("exams:start", args=[course.pk]))
    attempt = Attempt.objects.get()
    items = {i.position: i for i in attempt.items.select_related("question")}
    for pos in (1, 2):
        client.post(
            reverse("exams:save", args=[attempt.pk]), {"position": pos, "chosen": items[pos].question.answer}
        )
    data = {f"q{pos}": i.question.answer for pos, i in items.items() if pos not in (1, 2)}
    data.update({"q99": [0], "qx": [0], "q\u00b2": [0], "q3x": [0]})

    other = register_learner(name="王五")
    _login(client, other)
    assert client.post(reverse("exams:submit", args=[attempt.pk]), data).status_code == 404
    attempt.refresh_from_db()
    assert attempt.status == "open" and attempt.score is None
    assert attempt.items.get(position=1).answer == items[1].question.answer
    assert attempt.items.get(position=3).answer == []

    _login(client, learner)
    done = client.post(reverse("exams:submit", args=[attempt.pk]), data)
    assert done.url == reverse("exams:result", args=[attempt.pk])
    attempt.refresh_from_db()
    graded = {i.position: i for i in attempt.items.all()}
    assert graded[1].answer == [] and graded[2].answer == [] and graded[1].earned == graded[2].earned == 0
    assert graded[3].answer == items[3].question.answer and graded[3].earned == items[3].points
    assert attempt.status == "graded" and attempt.score == 100 - items[1].points - items[2].points
    assert attempt.items.count() == 30


def _xlsx(rows):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(importer.HEADERS)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    buf.name = "bank.xlsx"
    return buf


GOOD = [
    ["P1", "1", "单选", "题一", "甲", "乙", "丙", "", "", "", "B", "解析"],
    ["P1", "", "多选", "题二", "甲", "乙", "丙", "丁", "", "", "ACD", ""],
    ["P1", "", "判断", "题三", "", "", "", "", "", "", "错误", ""],
]


def test_import_good_file(course):
    before = Question.objects.count()
    report = importer.import_workbook(_xlsx(GOOD))
    assert report.ok and report.created == 3
    single, multi, judge = Question.objects.order_by("-id")[:3][::-1]
    assert (single.answer, single.chapter.position, multi.answer, judge.answer, judge.options) == (
        [1],
        1,
        [0, 2, 3],
        [1],
        ["正确", "错误"],
    )
    assert Question.objects.count() == before + 3


def test_import_pool_column_defaults_to_exam(course):
    rows = [
        GOOD[0] + ["练习"],
        GOOD[1] + ["考试题"],
        GOOD[2] + [""],
        ["P1", "", "单选", "题四", "甲", "乙", "", "", "", "", "A", "", "练习题"],
    ]
    report = importer.import_workbook(_xlsx(rows))
    assert report.ok and report.created == 4
    pools = list(Question.objects.order_by("-id").values_list("stem", "pool")[:4])[::-1]
    assert pools == [("题一", "practice"), ("题二", "exam"), ("题三", "exam"), ("题四", "practice")]


def test_import_of_a_file_made_before_the_pool_column_imports_exam_questions(course):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(importer.LEGACY_HEADERS)
    for r in GOOD:
        wb.active.append(r + ["练习"])  # a stray cell past the old last column is not read as a pool
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    report = importer.import_workbook(buf)
    assert report.ok and report.created == 3
    assert set(Question.objects.order_by("-id").values_list("pool", flat=True)[:3]) == {"exam"}


def test_import_refuses_an_unknown_pool_and_a_question_in_both_pools(course):
    """Practice shows its answers: the same question text as a practice and an exam question of a
    course would show the exam question's answer. Refused against the bank and within the file;
    nothing is imported."""
    exam = Question.objects.filter(course=course, pool="exam").first()
    before = Question.objects.count()
    rows = [
        GOOD[0] + ["练习"],  # 2: fine
        [
            "P1",
            "",
            "单选",
            exam.stem.replace("单", " 单"),
            "甲",
            "乙",
            "丙",
            "丁",
            "",
            "",
            "A",
            "",
            "练习",
        ],  # 3
        ["P1", "", "判断", "题三", "", "", "", "", "", "", "错误", "", "考试"],  # 4: fine
        ["P1", "", "判断", "题三", "", "", "", "", "", "", "错误", "", "练习"],  # 5: row 4's text
        ["P1", "", "判断", "题五", "", "", "", "", "", "", "错误", "", "模拟"],  # 6: no such pool
        ["P1", "", "单选", "题一", "甲", "乙", "", "", "", "", "A", "", "练习"],  # 7: the same pool: fine
        ["P1", "", "单选", "题一", "甲", "乙", "", "", "", "", "A", "", ""],  # 8: row 2's text, exam
    ]
    report = importer.import_workbook(_xlsx(rows))
    assert [n for n, _ in report.errors] == [3, 5, 6, 8]
    msgs = dict(report.errors)
    assert (
        "考试题中已有同一题干" in msgs[3] and "考试题中已有同一题干" in msgs[5] and "练习 或 考试" in msgs[6]
    )
    assert "练习题中已有同一题干" in msgs[8]
    assert Question.objects.count() == before


def test_import_reports_every_bad_row_and_imports_nothing(course):
    before = Question.objects.count()
    rows = GOOD + [
        ["NOPE", "", "单选", "x", "a", "b", "", "", "", "", "A", ""],  # 5: unknown course
        ["P1", "9", "单选", "x", "a", "b", "", "", "", "", "A", ""],  # 6: no chapter 9
        ["P1", "", "单选", "x", "a", "b", "", "", "", "", "AB", ""],  # 7: two answers
        ["P1", "", "多选", "x", "a", "", "c", "", "", "", "A", ""],  # 8: gap, one answer
        ["P1", "", "判断", "x", "", "", "", "", "", "", "也许", ""],  # 9
        ["P1", "", "填空", "", "", "", "", "", "", "", "", ""],  # 10
        ["P1", "", "单选", "=cmd()", "a", "b", "", "", "", "", "C", ""],  # 11: formula, answer out of range
    ]
    report = importer.import_workbook(_xlsx(rows))
    assert not report.ok and [n for n, _ in report.errors] == [5, 6, 7, 8, 9, 10, 11]
    msgs = dict(report.errors)
    assert "NOPE" in msgs[5] and "第 9 章" in msgs[6] and "只能有一个答案" in msgs[7]
    assert "连续" in msgs[8] and "正确" in msgs[9] and "题型" in msgs[10] and "题干" in msgs[10]
    assert "公式" in msgs[11]
    assert Question.objects.count() == before


def test_import_in_the_admin_and_template_download(client, course, django_user_model):
    from django.contrib.auth.models import Permission

    editor = django_user_model.objects.create_user("ed", "x", name="编辑", is_staff=True)
    editor.user_permissions.add(*Permission.objects.filter(codename__in=["add_question", "view_question"]))
    client.force_login(editor)
    tpl = client.get(reverse("admin:exams_question_template"))
    assert tpl.status_code == 200
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(tpl.content)).worksheets[0]
    assert [c.value for c in ws[1]] == importer.HEADERS
    # Its examples name a demo course that this database does not have: each row is reported.
    assert [n for n, _ in importer.import_workbook(io.BytesIO(tpl.content)).errors] == [2, 3, 4, 5]
    bad = client.post(
        reverse("admin:exams_question_import"),
        {"file": _xlsx(GOOD + [["P1", "", "单选", "x", "a", "b", "", "", "", "", "Z", ""]])},
    )
    assert bad.status_code == 400 and "第 5 行" in bad.content.decode()
    ok = client.post(reverse("admin:exams_question_import"), {"file": _xlsx(GOOD)})
    assert ok.status_code == 302


def test_admin_refuses_a_question_text_already_in_the_other_pool(client, course, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", "x", name="管理员")
    client.force_login(admin_user)
    exam = Question.objects.filter(course=course, pool="exam", qtype="single").first()
    before = Question.objects.count()
    form = {
        "course": course.pk,
        "qtype": "single",
        "pool": "practice",
        "stem": f" {exam.stem} ",
        "options": json.dumps(["甲", "乙"]),
        "answer": json.dumps([0]),
        "explanation": "",
        "is_active": "on",
    }
    resp = client.post(reverse("admin:exams_question_add"), form)
    assert resp.status_code == 200 and "本课程考试题中已有同一题干" in resp.content.decode()
    assert Question.objects.count() == before
    # The exam question itself can still be edited in its own pool; a new text is fine in practice.
    ok = client.post(reverse("admin:exams_question_add"), {**form, "stem": "新的练习题"})
    assert ok.status_code == 302 and Question.objects.filter(stem="新的练习题", pool="practice").exists()
    edit = client.post(
        reverse("admin:exams_question_change", args=[exam.pk]),
        {
            **form,
            "pool": "exam",
            "stem": exam.stem,
            "options": json.dumps(exam.options),
            "answer": json.dumps(exam.answer),
        },
    )
    assert edit.status_code == 302


def test_coming_back_after_the_deadline_shows_the_attempt_graded_not_continue(client, learner, course, paid):
    """The learner closed the exam page and comes back after its time ran out: the exam page
    grades the attempt with what was saved and shows it graded, not a 继续考试 button to a paper
    that is already closed."""
    from datetime import timedelta

    complete_chapters(learner, course)
    _login(client, learner)
    client.post(reverse("exams:start", args=[course.pk]))
    attempt = Attempt.objects.get()
    Attempt.objects.filter(pk=attempt.pk).update(deadline=attempt.deadline - timedelta(hours=3))
    home = client.get(reverse("exams:home", args=[course.pk])).content.decode()
    attempt.refresh_from_db()
    assert not attempt.is_open
    assert "继续考试" not in home and reverse("exams:attempt", args=[attempt.pk]) not in home
