from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from cpe.core.captcha import captcha_ok, captcha_question
from cpe.core.decorators import learner_required

from . import closing, hooks, personal_data, policy, selectors, services
from .errors import AccountError
from .forms import (
    AccountCloseForm,
    EmailChangeForm,
    IdentityChangeForm,
    LoginForm,
    MobileChangeForm,
    PasswordChangeForm,
    PasswordResetForm,
    PersonalDataForm,
    ProfileForm,
    RegistrationForm,
    RestoreForm,
    SecondFactorForm,
    SecondFactorSetupForm,
)
from .signals import client_ip


def _ua(request):
    return request.META.get("HTTP_USER_AGENT", "")


# Refusals that send the person to 找回密码: the message says so, and the page links it.
RESET_LINK_CODES = frozenset({"id_taken", "mobile_taken"})


def _attach(form, exc: AccountError):
    message = exc.message
    if exc.code in RESET_LINK_CODES:
        message = format_html(
            '{} <a class="reset-link" href="{}">去找回密码</a>',
            exc.message,
            reverse("accounts:password_reset"),
        )
    form.add_error(exc.field if exc.field in form.fields else None, message)


def _register_page(request, form, *, version, code_status=None, status=200):
    return render(
        request,
        "accounts/register.html",
        {
            "form": form,
            "agreement": version,
            "code_status": code_status,
            "resend_seconds": int(policy.CODE_RESEND_INTERVAL.total_seconds()),
        },
        status=status,
    )


@ratelimit(key="ip", rate=policy.REGISTER_RATE_PER_IP, method="POST", block=True)
def register(request):
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    version = hooks.agreement_to_accept(timezone.now())
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            user = services.user_register(
                id_number=d["id_number"],
                name=d["name"],
                email=d["email"],
                mobile=d["mobile"],
                employer=d["employer"],
                region=d["region"],
                password=d["password"],
                sms_code=d["sms_code"],
                self_supporting=d["self_supporting"],
                agreement_version=version,
                ip=client_ip(request),
                user_agent=_ua(request),
            )
        except AccountError as exc:
            _attach(form, exc)
        else:
            login(request, user, backend="cpe.accounts.auth.IdentifierBackend")
            messages.success(request, "注册成功，欢迎使用。我们已向您的电子邮箱发送验证链接。")
            return redirect("accounts:dashboard")
    return _register_page(request, form, version=version, status=400 if request.method == "POST" else 200)


@require_POST
@ratelimit(key="ip", rate=policy.SMS_RATE_PER_IP, method="POST", block=True)
def register_code(request):
    """获取验证码. With htmx only the status line next to the button changes; without script
    the button submits the whole form here, and the registration page comes back with what was
    typed (but the passwords) and the same status line: never a bare message."""
    try:
        masked = services.registration_code_send(mobile_raw=request.POST.get("mobile", ""))
    except AccountError as exc:
        level, text, status = "error", exc.message, 400
    else:
        level, text, status = "ok", policy.code_sent_message(masked), 200
    if request.htmx:
        return render(request, "partials/message.html", {"level": level, "text": text}, status=status)
    kept = {
        k: v for k, v in request.POST.items() if k in RegistrationForm.base_fields and "password" not in k
    }
    form = RegistrationForm(initial=kept)
    return _register_page(
        request,
        form,
        version=hooks.agreement_to_accept(timezone.now()),
        code_status={"level": level, "text": text},
        status=status,
    )


ENDED_MESSAGES = {
    "elsewhere": "您的账号已在其他设备或浏览器登录，本设备已退出。如非本人操作，请立即修改密码。",
    "closed": "该账号已停止服务，无法继续使用。",
    "signed_out": "您已退出登录，请重新登录。",
}


LOGIN_CAPTCHA_SESSION_KEY = "accounts.login_captcha"


def _new_login_captcha(request) -> str:
    """A fresh arithmetic question (the public query page's kind, core.captcha); its answer
    is kept in this browser's session and answers one sign-in attempt."""
    import secrets

    rng = secrets.SystemRandom()
    question, answer = captcha_question(rng.randint(2, 19), rng.randint(1, 9), rng.choice("+-"))
    request.session[LOGIN_CAPTCHA_SESSION_KEY] = answer
    return question


@ratelimit(key="ip", rate=policy.LOGIN_RATE_PER_IP, method="POST", block=True)
def login_view(request):
    """登录. After policy.LOGIN_CAPTCHA_AFTER_FAILURES recent failures for the typed identifier
    (any address, known account or not), a captcha answer is required before the password is
    even checked; a right answer and password still sign in (never a full lock)."""
    ended = ENDED_MESSAGES.get(request.GET.get("ended", ""))
    if request.method != "POST":
        return render(request, "accounts/login.html", {"form": LoginForm(), "ended": ended})
    identifier = request.POST.get("username", "")
    expected = request.session.pop(LOGIN_CAPTCHA_SESSION_KEY, None)  # one attempt per question
    needs_captcha = policy.login_captcha_required(services.login_failures(identifier))
    form = LoginForm(request.POST)
    if form.is_valid() and needs_captcha and not captcha_ok(expected, form.cleaned_data["captcha"]):
        form.add_error(
            "captcha",
            policy.LOGIN_CAPTCHA_WRONG_MESSAGE if expected is not None else policy.LOGIN_CAPTCHA_MESSAGE,
        )
    elif form.is_valid():
        user = authenticate(
            request, username=form.cleaned_data["username"], password=form.cleaned_data["password"]
        )
        restorable = (
            None
            if user is not None
            else selectors.restorable_account(form.cleaned_data["username"], form.cleaned_data["password"])
        )
        if restorable is not None:
            # The password is proved: the person may restore the service by proving a phone.
            request.session[RESTORE_SESSION_KEY] = {"user": restorable.pk, "at": timezone.now().isoformat()}
            return redirect("accounts:restore")
        if user is None:
            failures = services.login_failure_record(form.cleaned_data["username"])
            blocked = selectors.inactive_account_message(
                form.cleaned_data["username"], form.cleaned_data["password"]
            )
            form.add_error(None, blocked or "身份证号码/手机号码或密码不正确。")
            needs_captcha = policy.login_captcha_required(failures)
        else:
            had_other = bool(user.session_key_hash)
            login(request, user)
            if had_other:
                messages.info(request, "已结束您在其他设备或浏览器上的登录。")
            nxt = request.GET.get("next", "")
            if nxt.startswith("/") and not nxt.startswith("//"):
                return redirect(nxt)
            return redirect("admin:index" if user.is_staff else "accounts:dashboard")
    question = None
    if needs_captcha:
        form.data = form.data.copy()
        form.data["captcha"] = ""  # a new question is shown: its answer starts empty
        question = _new_login_captcha(request)
        # The question is the field's label: read out with the input, seen next to it.
        form["captcha"].label = f"验证码：请计算 {question}"
    return render(
        request,
        "accounts/login.html",
        {"form": form, "ended": ended, "captcha_question": question},
        status=400,
    )


RESTORE_SESSION_KEY = "accounts.restore"


def _restore_user_id(request):
    """The account whose password this browser proved for a restore, while the window is open."""
    from datetime import datetime

    held = request.session.get(RESTORE_SESSION_KEY) or {}
    try:
        started = datetime.fromisoformat(held["at"])
    except (KeyError, TypeError, ValueError):
        return None
    if not policy.restore_window_open(started_at=started, at=timezone.now()):
        return None
    return held.get("user")


@never_cache
@ratelimit(key="ip", rate=policy.SMS_RATE_PER_IP, method="POST", block=True)
def account_restore(request):
    """恢复账号服务: an account terminated for unreachable contact details, whose password was
    just proved at sign-in, proves a reachable mobile and is restored (policy.account_restorable)."""
    user_id = _restore_user_id(request)
    if user_id is None:
        request.session.pop(RESTORE_SESSION_KEY, None)
        messages.info(request, "请先使用原密码登录，再按提示恢复账号服务。")
        return redirect("accounts:login")
    form = RestoreForm(request.POST or None)
    sent = None
    if request.method == "POST" and form.is_valid():
        try:
            if request.POST.get("action") == "send":
                sent = services.account_restore_code_send(
                    user_id=user_id, mobile_raw=form.cleaned_data["mobile"]
                )
            else:
                services.account_restore(
                    user_id=user_id,
                    mobile_raw=form.cleaned_data["mobile"],
                    code=form.cleaned_data["sms_code"],
                )
                request.session.pop(RESTORE_SESSION_KEY, None)
                messages.success(request, "账号已恢复服务，请使用密码登录。")
                return redirect("accounts:login")
        except AccountError as exc:
            _attach(form, exc)
    return render(
        request,
        "accounts/restore.html",
        {"form": form, "sent": sent and policy.code_sent_message(sent)},
        status=400 if request.method == "POST" and form.errors else 200,
    )


def lockout(request, response, credentials):
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/locked.html", {"minutes": minutes}, status=429)


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, "您已安全退出。")
    return redirect("home")


@learner_required
def dashboard(request):
    return render(request, "accounts/dashboard.html", selectors.dashboard_context(request.user))


@learner_required
def profile(request):
    return render(
        request,
        "accounts/profile.html",
        {
            "logins": selectors.login_history(request.user),
            "changes": request.user.identity_changes.all()[:10],
        },
    )


@learner_required
def profile_edit(request):
    user = request.user
    form = ProfileForm(request.POST or None, initial={"employer": user.employer, "region": user.region})
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(user=user, **form.cleaned_data)
        except AccountError as exc:
            _attach(form, exc)
        else:
            messages.success(request, "资料已更新。")
            return redirect("accounts:profile")
    return render(request, "accounts/form_page.html", {"form": form, "title": "修改工作单位与地区"})


@learner_required
@ratelimit(key="user", rate=policy.SMS_RATE_PER_IP, method="POST", block=True)
def mobile_change(request):
    form = MobileChangeForm(request.POST or None)
    sent = None
    if request.method == "POST" and form.is_valid():
        try:
            if request.POST.get("action") == "send":
                sent = services.mobile_change_code_send(
                    user=request.user, new_mobile_raw=form.cleaned_data["mobile"]
                )
            else:
                services.mobile_change_confirm(
                    user=request.user,
                    new_mobile_raw=form.cleaned_data["mobile"],
                    code=form.cleaned_data["sms_code"],
                )
                messages.success(request, "手机号码已更换。")
                return redirect("accounts:profile")
        except AccountError as exc:
            _attach(form, exc)
    return render(request, "accounts/mobile_change.html", {"form": form, "sent": sent})


@learner_required
@ratelimit(key="user", rate=policy.PASSWORD_CHANGE_RATE_PER_USER, method="POST", block=True)
def password_change(request):
    """修改密码: this browser stays signed in under a new session key; every other session of
    the account is signed out (services.password_change)."""
    form = PasswordChangeForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.password_change(
                user=request.user,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
                ip=client_ip(request),
            )
        except AccountError as exc:
            _attach(form, exc)
        else:
            update_session_auth_hash(request, user)  # a new session key, the new password's hash
            services.session_key_rotated(user=user, session_key=request.session.session_key)
            messages.success(request, "密码已修改，其他设备上的登录已退出。")
            return redirect("accounts:profile")
    return render(
        request,
        "accounts/form_page.html",
        {
            "form": form,
            "title": "修改密码",
            "submit": "修改密码",
            "intro": "修改后，本浏览器保持登录，其他设备和浏览器上的登录将退出，并向您的手机发送短信通知。",
        },
        status=400 if request.method == "POST" else 200,
    )


@learner_required
@ratelimit(key="ip", rate=policy.EMAIL_VERIFY_RATE_PER_IP, method="POST", block=False)
def email_change(request):
    form = EmailChangeForm(request.POST or None)
    if request.method == "POST" and getattr(request, "limited", False):
        form.is_valid()
        form.add_error(None, policy.EMAIL_VERIFY_THROTTLED_MESSAGE)  # nothing sent
        return render(
            request,
            "accounts/form_page.html",
            {"form": form, "title": "更换电子邮箱", "submit": "发送验证链接"},
            status=429,
        )
    if request.method == "POST" and form.is_valid():
        try:
            masked = services.email_change_request(user=request.user, new_email=form.cleaned_data["email"])
        except AccountError as exc:
            _attach(form, exc)
        else:
            messages.success(request, f"验证链接已发送至 {masked}，打开链接后新邮箱生效。")
            return redirect("accounts:profile")
    return render(
        request, "accounts/form_page.html", {"form": form, "title": "更换电子邮箱", "submit": "发送验证链接"}
    )


def email_confirm(request, code_id, token):
    try:
        services.email_confirm(code_id=code_id, token=token)
    except AccountError as exc:
        return render(request, "accounts/notice.html", {"title": "验证失败", "text": exc.message}, status=400)
    return render(
        request,
        "accounts/notice.html",
        {"title": "电子邮箱已验证", "text": "您的电子邮箱已验证，今后的通知将发送至该邮箱。"},
    )


@learner_required
def identity_change(request):
    form = IdentityChangeForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "id_photo"}
        try:
            services.identity_change_request(user=request.user, id_photo=form.photo_bytes(), **data)
        except AccountError as exc:
            _attach(form, exc)
        else:
            messages.success(request, policy.IDENTITY_CHANGE_SUBMITTED_MESSAGE)
            return redirect("accounts:profile")
    return render(
        request,
        "accounts/form_page.html",
        {
            "form": form,
            "title": "申请变更姓名或身份证号码",
            "multipart": True,
            "intro": "姓名、身份证号码须与身份证一致，变更需经工作人员审核。审核通过前仍以原信息为准。"
            "附上身份证照片可帮助审核人员尽快核对。",
        },
    )


@ratelimit(key="ip", rate=policy.SMS_RATE_PER_IP, method="POST", block=True)
def password_reset(request):
    form = PasswordResetForm(request.POST or None)
    sent = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        if request.POST.get("action") == "send":
            sent = services.password_reset_code_send(identifier=d["username"])
        elif not d.get("password"):
            form.add_error("password", "请设置新密码。")
        else:
            try:
                services.password_reset_confirm(
                    identifier=d["username"], code=d["sms_code"], new_password=d["password"]
                )
            except AccountError as exc:
                _attach(form, exc)
            else:
                messages.success(request, "密码已重置，请使用新密码登录。")
                return redirect("accounts:login")
    return render(request, "accounts/password_reset.html", {"form": form, "sent": sent})


@never_cache
@learner_required
@ratelimit(key="user", rate=policy.PERSONAL_DATA_RATE_PER_USER, method="POST", block=True)
def personal_data_download(request):
    """下载我的个人信息 (rules R14, PIPL Art. 45): the password again, then the ZIP."""
    form = PersonalDataForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            export = personal_data.personal_data_export(
                user=request.user, password=form.cleaned_data["password"], ip=client_ip(request)
            )
        except AccountError as exc:
            _attach(form, exc)
        else:
            response = HttpResponse(export.content, content_type="application/zip")
            # RFC 6266 / RFC 5987: an ASCII name for old clients, the Chinese one as filename*.
            utf8 = content_disposition_header(True, export.filename)
            response["Content-Disposition"] = (
                f'attachment; filename="{export.ascii_filename}"; ' + utf8.split("; ", 1)[1]
            )
            response["X-Content-Type-Options"] = "nosniff"
            return response
    return render(
        request,
        "accounts/personal_data.html",
        {
            "form": form,
            "not_exported": policy.PERSONAL_DATA_NOT_EXPORTED,
            "sections": [s.key for s in personal_data.sections()] + [personal_data.TRANSFERS_KEY],
            "rate": policy.PERSONAL_DATA_RATE_PER_USER.split("/")[0],
        },
        status=400 if request.method == "POST" else 200,
    )


CLOSED_SESSION_KEY = "accounts.closed_outcome"


@never_cache
@learner_required
@ratelimit(key="user", rate=policy.CLOSING_RATE_PER_USER, method="POST", block=True)
def account_close(request):
    """注销账号 (rules R11): what happens, the password again, a confirmation; done at once."""
    form = AccountCloseForm(request.POST or None)
    preview = closing.closing_preview(request.user)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = closing.account_close(
                user=request.user,
                password=form.cleaned_data["password"],
                confirmed=form.cleaned_data["confirm"],
                ip=client_ip(request),
            )
        except AccountError as exc:
            _attach(form, exc)
        else:
            logout(request)
            request.session[CLOSED_SESSION_KEY] = outcome
            return redirect("accounts:closed")
    return render(
        request,
        "accounts/close.html",
        {
            "form": form,
            "preview": preview,
            "outcomes": policy.ClosingOutcome,
            "years": policy.CLOSING_ARCHIVE_YEARS,
        },
        status=400 if request.method == "POST" else 200,
    )


def account_closed(request):
    outcome = request.session.get(CLOSED_SESSION_KEY)
    if outcome is None:
        return redirect("home")
    return render(
        request,
        "accounts/closed.html",
        {"outcome": outcome, "outcomes": policy.ClosingOutcome, "years": policy.CLOSING_ARCHIVE_YEARS},
    )


# --- the staff second factor (docs/security.md, "Staff second factor") ------------------------
def _safe_next(request) -> str:
    from django.utils.http import url_has_allowed_host_and_scheme

    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if (
        nxt
        and url_has_allowed_host_and_scheme(
            nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and nxt.startswith("/")
    ):
        return nxt
    from django.urls import reverse

    return reverse("admin:index")


def _staff_only(request):
    """The second-factor pages serve signed-in staff only: others are sent where they belong."""
    if not request.user.is_authenticated:
        return redirect("accounts:login")
    if not request.user.is_staff:
        return redirect("accounts:dashboard")
    return None


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


@never_cache
def second_factor_verify(request):
    """两步验证: a TOTP code or one recovery code, once per session."""
    from django_otp import login as otp_login

    from . import second_factor

    refused = _staff_only(request)
    if refused is not None:
        return refused
    factor = second_factor.factor_for(request.user)
    if factor is None or not factor.confirmed:
        return redirect("accounts:second_factor_setup")
    if request.user.is_verified():
        return redirect(_safe_next(request))
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            factor, kind = second_factor.verify(
                user=request.user, code=form.cleaned_data["code"], ip=client_ip(request)
            )
        except AccountError as exc:
            _attach(form, exc)
        else:
            otp_login(request, factor)
            if kind == "recovery":
                left = second_factor.recovery_codes_left(factor)
                messages.warning(
                    request, f"已使用一个恢复码，还剩 {left} 个。请在“两步验证恢复码”页面生成新的恢复码。"
                )
            return redirect(_safe_next(request))
    return _no_store(
        render(request, "accounts/second_factor.html", {"form": form, "next": _safe_next(request)})
    )


@never_cache
def second_factor_setup(request):
    """绑定身份验证器: the key as a QR code and as text, confirmed with a code; then the
    recovery codes, shown on this one response only."""
    import segno
    from django_otp import login as otp_login

    from . import second_factor

    refused = _staff_only(request)
    if refused is not None:
        return refused
    try:
        factor = second_factor.enrol_start(user=request.user)
    except AccountError:
        return redirect("accounts:second_factor")  # already enrolled: verify instead
    form = SecondFactorSetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            factor, codes = second_factor.enrol_confirm(
                user=request.user, code=form.cleaned_data["code"], ip=client_ip(request)
            )
        except AccountError as exc:
            _attach(form, exc)
        else:
            otp_login(request, factor)
            return _no_store(
                render(
                    request,
                    "accounts/recovery_codes.html",
                    {"codes": codes, "next": _safe_next(request), "enrolled": True},
                )
            )
    qr = segno.make(second_factor.provisioning_uri(factor), error="m")
    return _no_store(
        render(
            request,
            "accounts/second_factor_setup.html",
            {
                "form": form,
                "qr_svg": qr.svg_inline(scale=4, dark="#1f2937", title="两步验证二维码"),
                "key_text": second_factor.key_text(factor),
                "next": _safe_next(request),
            },
        )
    )


@never_cache
def recovery_codes(request):
    """两步验证恢复码: how many are left; new ones on request (the old ones stop working)."""
    from . import second_factor

    refused = _staff_only(request)
    if refused is not None:
        return refused
    factor = second_factor.factor_for(request.user)
    if request.method == "POST":
        try:
            codes = second_factor.recovery_codes_renew(user=request.user, ip=client_ip(request))
        except AccountError as exc:
            messages.error(request, exc.message)
            return redirect("accounts:recovery_codes")
        return _no_store(
            render(
                request,
                "accounts/recovery_codes.html",
                {"codes": codes, "next": _safe_next(request), "enrolled": False},
            )
        )
    return render(
        request,
        "accounts/recovery_codes_status.html",
        {"left": second_factor.recovery_codes_left(factor) if factor else 0},
    )
