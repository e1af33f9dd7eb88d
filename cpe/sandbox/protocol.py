"""The gateway side of the two protocols, written independently of the SDKs the adapters use
(with `cryptography`), so the sandbox really checks what the adapters send.

Alipay (RSA2 = SHA256withRSA, PKCS#1 v1.5, base64):
- a request is signed over "k1=v1&k2=v2..." of every non-empty parameter except `sign`,
  sorted by key; `biz_content` is a JSON string;
- a synchronous answer is {"<method>_response": {...}, "sign": "..."}, signed over the exact
  text of the inner object;
- a notification is a form POST signed over every non-empty parameter except `sign` and
  `sign_type`.

WeChat Pay v3 (SHA256withRSA, PKCS#1 v1.5, base64):
- a request carries Authorization: WECHATPAY2-SHA256-RSA2048 mchid="",nonce_str="",
  signature="",timestamp="",serial_no="", signed over "METHOD\\nPATH?QUERY\\nTS\\nNONCE\\nBODY\\n";
- an answer or notification carries Wechatpay-Timestamp/-Nonce/-Signature/-Serial/
  -Signature-Type headers, signed over "TS\\nNONCE\\nBODY\\n";
- a notification's resource is AES-256-GCM encrypted with the APIv3 key (12-byte nonce,
  associated data "transaction", base64 of ciphertext + tag).
"""

import base64
import json
import re
import secrets
import string
import time
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SHANGHAI = ZoneInfo("Asia/Shanghai")
WECHAT_SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
_ALNUM = string.ascii_letters + string.digits


def rsa_sign(private_pem: str, message: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    signature = key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def rsa_verify(public_pem: str, message: str, signature: str) -> bool:
    key = serialization.load_pem_public_key(public_pem.encode())
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            message.encode("utf-8"),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def nonce(length: int = 32) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def beijing(dt: datetime) -> str:
    """Alipay's time format: Beijing wall clock."""
    return dt.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def rfc3339(dt: datetime) -> str:
    """WeChat Pay's time format, e.g. YYYY-MM-DDT13:29:35+08:00 (Shanghai offset)."""
    return dt.astimezone(SHANGHAI).isoformat(timespec="seconds")


# -- Alipay -------------------------------------------------------------------------------------
def alipay_content(params: dict, exclude=("sign",)) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in exclude and v != "")


def alipay_request_valid(params: dict, app_public_pem: str) -> bool:
    sign = params.get("sign", "")
    return bool(sign) and rsa_verify(app_public_pem, alipay_content(params), sign)


def alipay_signed_answer(method: str, payload: dict, private_pem: str) -> str:
    """The JSON text of a signed synchronous answer to `method` (e.g. alipay.trade.query)."""
    inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    key = method.replace(".", "_") + "_response"
    return '{"%s":%s,"sign":"%s"}' % (key, inner, rsa_sign(private_pem, inner))


def alipay_sign_notification(params: dict, private_pem: str) -> dict:
    """`params` plus sign_type and sign (signed over everything but sign and sign_type)."""
    params = {k: v for k, v in params.items() if v != ""}
    params["sign_type"] = "RSA2"
    params["sign"] = rsa_sign(private_pem, alipay_content(params, exclude=("sign", "sign_type")))
    return params


def alipay_form(params: dict) -> bytes:
    return urlencode(params).encode("utf-8")


# -- WeChat Pay v3 ------------------------------------------------------------------------------
_AUTH_RE = re.compile(r'(\w+)="([^"]*)"')


def wechat_parse_authorization(value: str) -> dict | None:
    scheme, _, rest = (value or "").partition(" ")
    if scheme != WECHAT_SIGNATURE_TYPE:
        return None
    fields = dict(_AUTH_RE.findall(rest))
    if not all(fields.get(k) for k in ("mchid", "nonce_str", "signature", "timestamp", "serial_no")):
        return None
    return fields


def wechat_request_message(method: str, path: str, timestamp: str, nonce_str: str, body: str) -> str:
    return f"{method}\n{path}\n{timestamp}\n{nonce_str}\n{body}\n"


def wechat_signed_headers(
    body: str, private_pem: str, serial: str, *, timestamp: int | None = None, nonce_str: str | None = None
) -> dict:
    """The headers WeChat Pay signs its answers and notifications with."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce_str = nonce_str or nonce()
    return {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce_str,
        "Wechatpay-Signature": rsa_sign(private_pem, f"{ts}\n{nonce_str}\n{body}\n"),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": WECHAT_SIGNATURE_TYPE,
    }


def wechat_encrypt_resource(plain: dict, apiv3_key: str, *, original_type: str = "transaction") -> dict:
    nonce_str = nonce(12)
    associated = original_type
    data = json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce_str.encode(), data, associated.encode())
    return {
        "original_type": original_type,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated,
        "nonce": nonce_str,
    }


def wechat_notification_body(
    notify_id: str,
    resource: dict,
    *,
    event_type: str = "TRANSACTION.SUCCESS",
    summary: str = "支付成功",
    created: datetime | None = None,
) -> str:
    envelope = {
        "id": notify_id,
        "create_time": rfc3339(created or datetime.now(SHANGHAI)),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": resource,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


# -- Payloads -----------------------------------------------------------------------------------
def alipay_notification_params(
    *,
    app_id: str,
    seller_id: str,
    out_trade_no: str,
    trade_no: str,
    total_amount: str,
    subject: str,
    notify_id: str,
    gmt_create: datetime,
    gmt_payment: datetime,
    trade_status: str = "TRADE_SUCCESS",
) -> dict:
    """The parameters of an Alipay trade_status_sync notification (before signing)."""
    return {
        "notify_time": beijing(datetime.now(SHANGHAI)),
        "notify_type": "trade_status_sync",
        "notify_id": notify_id,
        "app_id": app_id,
        "auth_app_id": app_id,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": trade_no,
        "out_trade_no": out_trade_no,
        "buyer_id": "2088102000000001",
        "buyer_logon_id": "sandbox***@example.com",
        "seller_id": seller_id,
        "trade_status": trade_status,
        "total_amount": total_amount,
        "receipt_amount": total_amount,
        "invoice_amount": total_amount,
        "buyer_pay_amount": total_amount,
        "point_amount": "0.00",
        "subject": subject,
        "gmt_create": beijing(gmt_create),
        "gmt_payment": beijing(gmt_payment),
        "fund_bill_list": json.dumps(
            [{"amount": total_amount, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
        ),
    }


def wechat_transaction(
    *,
    mchid: str,
    appid: str,
    out_trade_no: str,
    transaction_id: str,
    trade_type: str,
    amount_fen: int,
    success_time: datetime | None,
    trade_state: str = "SUCCESS",
) -> dict:
    """A WeChat Pay v3 transaction object (query answer; decrypted notification resource)."""
    descriptions = {"SUCCESS": "支付成功", "NOTPAY": "未支付", "CLOSED": "已关闭", "REFUND": "转入退款"}
    data = {
        "mchid": mchid,
        "appid": appid,
        "out_trade_no": out_trade_no,
        "trade_type": trade_type,
        "trade_state": trade_state,
        "trade_state_desc": descriptions.get(trade_state, trade_state),
        "attach": "",
        "amount": {"total": amount_fen, "currency": "CNY"},
    }
    if trade_state in ("SUCCESS", "REFUND"):
        data.update(
            {
                "transaction_id": transaction_id,
                "bank_type": "OTHERS",
                "success_time": rfc3339(success_time),
                "payer": {"openid": "oSandboxPayer0000000000000001"},
            }
        )
        data["amount"].update({"payer_total": amount_fen, "payer_currency": "CNY"})
    return data
