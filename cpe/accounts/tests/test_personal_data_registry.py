"""The data copy shows whatever the apps registered (lifecycle.Section), in order, with the
transfers they registered; a section registered here for the test only stands for a new app's."""

import pytest
from django.utils import timezone

from cpe.accounts import lifecycle, personal_data

pytestmark = pytest.mark.django_db


def test_a_registered_section_and_transfer_are_in_the_copy_at_their_place(register_learner, monkeypatch):
    learner = register_learner()
    section = lifecycle.Section(
        "新功能记录",
        lambda user: [user],
        order=45,
        models=(),
        columns=(("姓名", "name"), ("注册时间", "date_joined")),
    )
    monkeypatch.setitem(lifecycle._sections, section.key, section)
    row = {
        "接收方": "某第三方",
        "目的": "测试",
        "提供的信息": "姓名",
        "时间": "2000-01-01 00:00:00",
        "关联记录": "",
    }
    monkeypatch.setitem(lifecycle._transfers, "planted", (5, lambda user: [row]))

    data = personal_data.personal_data_collect(learner, at=timezone.now())
    keys = [k for k in data if k in {s.key for s in lifecycle.sections()}]
    assert keys.index("新功能记录") == keys.index("登录记录") + 1  # order 45: after 40, before 50
    assert data["新功能记录"] == [{"姓名": learner.name, "注册时间": lifecycle.fmt(learner.date_joined)}]
    assert data[personal_data.TRANSFERS_KEY][0]["接收方"] == "某第三方"  # the oldest first
    assert "新功能记录" in personal_data.personal_data_html(data)


def test_a_section_naming_a_forbidden_attribute_fails_when_defined():
    with pytest.raises(ValueError):
        lifecycle.Section("x", lambda user: [user], columns=(("密码", "password"),))
