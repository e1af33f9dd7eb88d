"""Passwords built from the learner's own data (name and its pinyin, ID number, birth date,
mobile) are refused with a Chinese message, at registration, password reset and 修改密码; the
refusal changes nothing."""

import pytest
from django.urls import reverse

from cpe.accounts import policy, services
from cpe.accounts.errors import AccountError
from cpe.accounts.models import User
from cpe.accounts.tests.factories import last_code, make_id_number

ID = make_id_number(birth="19900307")  # 150102 19900307 123 + check
MOBILE = "13912345678"


@pytest.mark.parametrize(
    "password",
    [
        "zhangsan1990",
        "Zhang.San@1990",
        "ZhangSan19900307",
        "sanzhang0307!",
        "zs19900307",
        "zhangsan" + MOBILE[-4:],
        ID,
        ID.lower() + "!",
        MOBILE,
        "张三1990abc"[:5] + "0307",
        "zhang-" + ID[-6:],
        "单于1990",
    ],
)
def test_refused_when_nothing_else_is_left(password):
    name = "单于" if password.startswith("单于") else "张三"
    assert (
        policy.password_personal_problem(password, name=name, id_number=ID, mobile=MOBILE)
        == policy.PASSWORD_PERSONAL_MESSAGE
    ), password


@pytest.mark.parametrize(
    "password, name",
    [
        ("Zhang-san-2026", "张三"),  # 2026 is not from the person's data: 4 own digits
        ("Caoyuan-Xingxing-7", "张三"),
        ("OuYang-Qi9k", "李四"),
        ("bateer-qimg", "张三"),
    ],
)
def test_accepted_with_enough_of_its_own(password, name):
    assert policy.password_personal_problem(password, name=name, id_number=ID, mobile=MOBILE) is None


def test_compound_surnames_heteronyms_and_mongolian_names():
    frags = policy.password_personal_fragments(name="欧阳娜娜")
    assert {"ouyang", "nana", "ouyangnana", "oynn"} <= frags
    assert {"shanyu", "danyu", "chanyu"} & policy.password_personal_fragments(name="单于")
    assert policy.password_personal_problem("Bateer!1990", name="巴特尔", id_number=ID) is not None
    assert (
        policy.password_personal_problem(
            "Bateer!1990", name="巴特尔", id_number=make_id_number(birth="19850101")
        )
        is None
    )


# --- on the three doors ------------------------------------------------------------------------
@pytest.mark.django_db
def test_registration_refuses_the_pinyin_name_and_birth_year(client, agreement_v1):
    client.post(reverse("accounts:register_code"), {"mobile": MOBILE}, HTTP_HX_REQUEST="true")
    data = {
        "id_number": ID,
        "name": "张三",
        "email": "z@example.com",
        "mobile": MOBILE,
        "employer": "某单位",
        "region": "150100",
        "password": "Zhangsan1990",
        "password2": "Zhangsan1990",
        "accept": "on",
        "sms_code": last_code(MOBILE),
    }
    r = client.post(reverse("accounts:register"), data)
    assert r.status_code != 302 and "密码不能由您的姓名（含拼音）" in r.content.decode()
    assert not User.objects.filter(name="张三").exists()
    data.update(password="Caoyuan-Xingxing-7", password2="Caoyuan-Xingxing-7")
    assert client.post(reverse("accounts:register"), data).status_code == 302


@pytest.mark.django_db
def test_password_reset_refuses_after_the_code_and_keeps_the_code(register_learner):
    user = register_learner(name="张三", mobile=MOBILE, id_number=ID)
    services.password_reset_code_send(identifier=user.id_number)
    code = last_code(MOBILE)
    with pytest.raises(AccountError) as exc:
        services.password_reset_confirm(identifier=MOBILE, code=code, new_password="zhangsan0307")
    assert (
        exc.value.code == "weak_password"
        and "手机号码" in exc.value.message
        and exc.value.field == "password"
    )
    assert User.objects.get(pk=user.pk).check_password("Zhang-san-2026")
    # the refusal used nothing up: the same code sets an acceptable password
    services.password_reset_confirm(identifier=MOBILE, code=code, new_password="Caoyuan-Xingxing-7")
    assert User.objects.get(pk=user.pk).check_password("Caoyuan-Xingxing-7")


@pytest.mark.django_db
def test_password_change_refuses_the_mobile(client, register_learner):
    from cpe.accounts.tests.factories import sign_in_learner

    user = register_learner(name="张三", mobile=MOBILE, id_number=ID)
    sign_in_learner(client, user)
    r = client.post(
        reverse("accounts:password_change"),
        {"current_password": "Zhang-san-2026", "new_password": f"zs{MOBILE}", "new_password2": f"zs{MOBILE}"},
    )
    assert "密码不能由您的姓名（含拼音）" in r.content.decode()
    assert User.objects.get(pk=user.pk).check_password("Zhang-san-2026")


@pytest.mark.django_db
def test_duplicate_id_message_links_to_password_reset(client, register_learner):
    taken = register_learner(name="张三", id_number=ID)
    other_mobile = "13600000777"
    client.post(reverse("accounts:register_code"), {"mobile": other_mobile}, HTTP_HX_REQUEST="true")
    r = client.post(
        reverse("accounts:register"),
        {
            "id_number": taken.id_number,
            "name": "张三",
            "email": "n@example.com",
            "mobile": other_mobile,
            "employer": "某单位",
            "region": "150100",
            "password": "Caoyuan-Xingxing-7",
            "password2": "Caoyuan-Xingxing-7",
            "accept": "on",
            "sms_code": last_code(other_mobile),
        },
    )
    html = r.content.decode()
    assert r.status_code == 400 and policy.ID_TAKEN_MESSAGE in html
    assert f'<a class="reset-link" href="{reverse("accounts:password_reset")}">去找回密码</a>' in html
    assert User.objects.count() == 1
