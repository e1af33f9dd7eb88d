"""SMS through Alibaba Cloud SMS (阿里云短信服务, Dysmsapi 2017-05-25, action SendSms), the RPC
protocol: form parameters signed with HMAC-SHA1 (SignatureVersion 1.0) over the sorted,
percent-encoded parameters, key = AccessKeySecret + "&"; the answer is JSON with Code "OK" and a
BizId. Messages go out through approved templates: an event with parameters and a template of
its own (ALIYUN_SMS_TEMPLATES) uses it; every other message the general notice template with the
text as its `content` parameter.

Configuration (read at call time):
    ALIYUN_SMS_ACCESS_KEY_ID, ALIYUN_SMS_ACCESS_KEY_SECRET   the RAM user's AccessKey
    ALIYUN_SMS_SIGN_NAME          the approved signature (短信签名), e.g. 内蒙古会计继续教育
    ALIYUN_SMS_TEMPLATE_DEFAULT   the general notice template, one parameter ${content}
    ALIYUN_SMS_TEMPLATES          JSON {event or "prefix.*": template code}, e.g. {"code.*": "SMS_1"}
    ALIYUN_SMS_ENDPOINT           optional, default https://dysmsapi.aliyuncs.com/
With settings.PAYMENT_SANDBOX on (development and tests; refused with DEBUG off by cpe.E002)
the adapter talks to the embedded stand-in at SITE_URL + /sandbox/aliyun/sms/ with its key."""

import base64
import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from importlib import import_module
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import BaseSmsBackend, SmsError

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
API_VERSION = "2017-05-25"
SANDBOX_ACCESS_KEY_ID = "LTAI-sandbox-cpe"
SANDBOX_SIGN_NAME = "内蒙古会计继续教育"
SANDBOX_TEMPLATE_DEFAULT = "SMS_900000001"
SANDBOX_TEMPLATES = {"code.*": "SMS_900000002"}


@dataclass(frozen=True)
class AliyunSmsSettings:
    access_key_id: str
    access_key_secret: str
    sign_name: str
    template_default: str
    templates: dict
    endpoint: str
    timeout: tuple = (5, 15)


def aliyun_sms_settings() -> AliyunSmsSettings:
    if getattr(settings, "PAYMENT_SANDBOX", False):
        # The sandbox's key set, by the dotted path settings.SANDBOX_KEYS (production code never
        # imports cpe.sandbox).
        sandbox_keys = import_module(settings.SANDBOX_KEYS).sandbox_keys
        return AliyunSmsSettings(
            SANDBOX_ACCESS_KEY_ID,
            sandbox_keys().aliyun_sms_secret,
            SANDBOX_SIGN_NAME,
            SANDBOX_TEMPLATE_DEFAULT,
            SANDBOX_TEMPLATES,
            settings.SITE_URL.rstrip("/") + "/sandbox/aliyun/sms/",
        )
    env = os.environ
    missing = [
        n
        for n in (
            "ALIYUN_SMS_ACCESS_KEY_ID",
            "ALIYUN_SMS_ACCESS_KEY_SECRET",
            "ALIYUN_SMS_SIGN_NAME",
            "ALIYUN_SMS_TEMPLATE_DEFAULT",
        )
        if not env.get(n)
    ]
    if missing:
        raise ImproperlyConfigured(f"Aliyun SMS: set {', '.join(missing)}")
    return AliyunSmsSettings(
        env["ALIYUN_SMS_ACCESS_KEY_ID"],
        env["ALIYUN_SMS_ACCESS_KEY_SECRET"],
        env["ALIYUN_SMS_SIGN_NAME"],
        env["ALIYUN_SMS_TEMPLATE_DEFAULT"],
        json.loads(env.get("ALIYUN_SMS_TEMPLATES") or "{}"),
        env.get("ALIYUN_SMS_ENDPOINT") or DEFAULT_ENDPOINT,
    )


def percent(value: str) -> str:
    """The protocol's percent-encoding: RFC 3986 unreserved characters kept, space as %20."""
    return quote(str(value), safe="~")


def signature(params: dict, secret: str, method: str = "POST") -> str:
    """HMAC-SHA1 of METHOD&%2F&percent(canonical query), base64 (SignatureVersion 1.0)."""
    canonical = "&".join(f"{percent(k)}={percent(params[k])}" for k in sorted(params) if k != "Signature")
    to_sign = f"{method}&{percent('/')}&{percent(canonical)}"
    return base64.b64encode(hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


def template_for(event: str, params, conf: AliyunSmsSettings) -> tuple[str, dict | None]:
    """(template code, its parameters or None for the general template)."""
    if params:
        code = conf.templates.get(event) or conf.templates.get(event.split(".", 1)[0] + ".*")
        if code:
            return code, params
    return conf.template_default, None


class AliyunSmsBackend(BaseSmsBackend):
    def send(self, mobile: str, text: str, *, event: str = "", params: dict | None = None) -> str:
        conf = aliyun_sms_settings()
        template, template_params = template_for(event, params, conf)
        form = {
            "AccessKeyId": conf.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "Version": API_VERSION,
            "RegionId": "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": uuid.uuid4().hex,
            "Timestamp": datetime.now(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "PhoneNumbers": mobile,
            "SignName": conf.sign_name,
            "TemplateCode": template,
            "TemplateParam": json.dumps(
                template_params or {"content": text}, ensure_ascii=False, separators=(",", ":")
            ),
        }
        form["Signature"] = signature(form, conf.access_key_secret)
        try:
            r = requests.post(conf.endpoint, data=form, timeout=conf.timeout)
            answer = r.json()
        except (requests.RequestException, ValueError) as exc:
            raise SmsError(f"aliyun sms: no answer ({exc.__class__.__name__})") from exc
        if answer.get("Code") != "OK":
            raise SmsError(f"aliyun sms: {answer.get('Code')} {answer.get('Message', '')}"[:300])
        return answer.get("BizId") or ""
