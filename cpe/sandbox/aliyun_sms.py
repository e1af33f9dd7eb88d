"""The embedded stand-in for Alibaba Cloud SMS (Dysmsapi 2017-05-25 SendSms), speaking the
protocol the adapter cpe.notices.sms.aliyun speaks: it checks the AccessKey, the HMAC-SHA1
signature, the timestamp (15 minutes), a fresh nonce, the signature name and template, the
template's parameters and the number, and limits one text per number and template per minute
(as the provider's default flow control does), answering with the provider's codes."""

import json
import re
import secrets
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.core.cache import cache
from django.utils import timezone

from cpe.notices.sms import aliyun

TIMESTAMP_SKEW = timedelta(minutes=15)
PER_NUMBER_TEMPLATE = timedelta(minutes=1)
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def template_params_required() -> dict:
    """The stand-in's approved templates and the parameters each needs."""

    return {aliyun.SANDBOX_TEMPLATE_DEFAULT: {"content"}, aliyun.SANDBOX_TEMPLATES["code.*"]: {"code"}}


def answer_send(form: dict, method: str) -> tuple[int, dict]:
    """(HTTP status, JSON answer) for one SendSms call."""

    from .keys import sandbox_keys
    from .models import SandboxSms

    request_id = str(uuid.uuid4()).upper()

    def refuse(status, code, message):
        return status, {"Code": code, "Message": message, "RequestId": request_id}

    if form.get("AccessKeyId") != aliyun.SANDBOX_ACCESS_KEY_ID:
        return refuse(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    if form.get("SignatureMethod") != "HMAC-SHA1" or form.get("SignatureVersion") != "1.0":
        return refuse(400, "InvalidParameter", "SignatureMethod/SignatureVersion")
    expected = aliyun.signature(form, sandbox_keys().aliyun_sms_secret, method)
    if not secrets.compare_digest(expected, form.get("Signature", "")):
        return refuse(
            400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
        )
    try:
        ts = datetime.strptime(form.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt_timezone.utc
        )
    except ValueError:
        return refuse(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
    if abs(timezone.now() - ts) > TIMESTAMP_SKEW:
        return refuse(400, "InvalidTimeStamp.Expired", "Specified time stamp or date header is expired.")
    nonce = form.get("SignatureNonce", "")
    if not nonce or not cache.add(
        f"sandbox:aliyun-sms:nonce:{nonce}", 1, int(TIMESTAMP_SKEW.total_seconds()) * 2
    ):
        return refuse(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    if form.get("Action") != "SendSms" or form.get("Version") != aliyun.API_VERSION:
        return refuse(400, "InvalidAction.NotFound", "Specified api is not found.")
    phone = form.get("PhoneNumbers", "")
    if not MOBILE.match(phone):
        return refuse(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
    if form.get("SignName") != aliyun.SANDBOX_SIGN_NAME:
        return refuse(200, "isv.SMS_SIGNATURE_ILLEGAL", "签名不合法")
    template = form.get("TemplateCode", "")
    needed = template_params_required().get(template)
    if needed is None:
        return refuse(200, "isv.SMS_TEMPLATE_ILLEGAL", "模板不合法")
    try:
        params = json.loads(form.get("TemplateParam") or "{}")
    except ValueError:
        return refuse(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法")
    if not isinstance(params, dict) or not needed <= set(params):
        return refuse(200, "isv.TEMPLATE_MISSING_PARAMETERS", "模板缺少变量")
    if not cache.add(
        f"sandbox:aliyun-sms:flow:{phone}:{template}", 1, int(PER_NUMBER_TEMPLATE.total_seconds())
    ):
        return refuse(200, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
    biz_id = f"{secrets.randbelow(10**15):015d}^0"
    SandboxSms.objects.create(
        biz_id=biz_id, phone=phone, sign_name=form["SignName"], template_code=template, params=params
    )
    return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}
