"""The password validator that refuses passwords built from the person's own data
(accounts.policy.password_personal_problem), for AUTH_PASSWORD_VALIDATORS. It reads `name`,
`id_number` and `mobile` from the user it is given: the account (修改密码, password reset) or,
at registration, an object holding what the form was given."""

from django.core.exceptions import ValidationError

from . import policy


class PersonalDataPasswordValidator:
    def validate(self, password, user=None):
        if user is None:
            return
        problem = policy.password_personal_problem(
            password,
            name=getattr(user, "name", "") or "",
            id_number=getattr(user, "id_number", "") or "",
            mobile=getattr(user, "mobile", "") or "",
        )
        if problem:
            raise ValidationError(problem, code="password_personal_data")

    def get_help_text(self):
        return "密码不能由姓名（含拼音）、身份证号码、出生日期或手机号码组成。"
