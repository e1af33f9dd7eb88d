"""HTTP face of the sandbox gateway: the Alipay gateway.do endpoint, the WeChat Pay v3 API
endpoints the adapters use, and the cashier page with its three buttons.

Served only when settings.PAYMENT_SANDBOX is on (404 otherwise).
"""

import json
import time
from functools import wraps
from urllib.parse import urlparse

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cpe.core.money import fen_to_yuan

from . import keys, protocol, services
from .models import SandboxTrade

PAY_METHODS = ("alipay.trade.page.pay", "alipay.trade.wap.pay")
WECHAT_MAX_SKEW = 300


def sandbox_only(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.PAYMENT_SANDBOX:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def _message(request, title: str, text: str, *, status: int = 200, link: str = "", gateway: str = ""):
    return render(
        request,
        "sandbox/message.html",
        {"title": title, "text": text, "link": link, "gateway": gateway},
        status=status,
    )


# -- overview -------------------------------------------------------------------------------------
@sandbox_only
@require_GET
def index(request):
    from .models import SandboxSms

    trades = SandboxTrade.objects.prefetch_related("deliveries", "refunds")[:50]
    return render(request, "sandbox/index.html", {"trades": trades, "texts": SandboxSms.objects.all()[:20]})


# -- Aliyun SMS (https://dysmsapi.aliyuncs.com/) ---------------------------------------------------
@sandbox_only
@csrf_exempt
@require_http_methods(["GET", "POST"])
def aliyun_sms(request):
    from django.http import JsonResponse

    from .aliyun_sms import answer_send

    form = (request.POST if request.method == "POST" else request.GET).dict()
    status, answer = answer_send(form, request.method)
    return JsonResponse(answer, status=status, json_dumps_params={"ensure_ascii": False})


# -- Alipay ---------------------------------------------------------------------------------------
def _alipay_json(text: str) -> HttpResponse:
    return HttpResponse(text.encode("utf-8"), content_type="application/json; charset=utf-8")


def _alipay_answer(method: str, payload: dict) -> HttpResponse:
    private_pem = keys.sandbox_keys().alipay_gateway_private_pem
    return _alipay_json(protocol.alipay_signed_answer(method, payload, private_pem))


def _alipay_refusal(method: str, sub_code: str, sub_msg: str) -> HttpResponse:
    return _alipay_answer(
        method, {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}
    )


@csrf_exempt
@sandbox_only
@require_http_methods(["GET", "POST"])
def alipay_gateway(request):
    """openapi.alipay.com/gateway.do: page/wap pay requests (the browser) and API calls (the
    server; the SDK sends them as GET, Alipay also accepts form POST)."""
    params = {**request.GET.dict(), **request.POST.dict()}
    method = params.get("method", "")
    is_page = method in PAY_METHODS
    answer_key = method.replace(".", "_") + "_response" if method else "error_response"

    def invalid(sub_code: str, sub_msg: str):
        if is_page:
            return _message(request, "支付请求错误", f"{sub_code}：{sub_msg}", status=400, gateway="alipay")
        return _alipay_json(
            json.dumps(
                {
                    answer_key: {
                        "code": "40002",
                        "msg": "Invalid Arguments",
                        "sub_code": sub_code,
                        "sub_msg": sub_msg,
                    }
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
        )

    if params.get("app_id") != keys.ALIPAY_APP_ID:
        return invalid("isv.invalid-app-id", "无效的AppID参数")
    if params.get("sign_type") != "RSA2" or params.get("charset", "utf-8").lower() != "utf-8":
        return invalid("isv.invalid-signature-type", "无效的签名类型")
    if not protocol.alipay_request_valid(params, keys.sandbox_keys().alipay_app_public_pem):
        return invalid("isv.invalid-signature", "验签出错")
    try:
        biz = json.loads(params.get("biz_content") or "{}")
    except ValueError:
        return invalid("isv.invalid-parameter", "biz_content 不是合法的 JSON")

    if is_page:
        try:
            trade = services.alipay_open(params)
        except services.Refused as exc:
            return _message(
                request,
                "无法支付",
                exc.message,
                status=400,
                gateway="alipay",
                link=params.get("return_url", ""),
            )
        return redirect("sandbox:pay", token=trade.token)  # Alipay also moves on to its cashier page
    if method == "alipay.trade.query":
        return _alipay_query(method, biz)
    if method == "alipay.trade.refund":
        return _alipay_refund(method, biz)
    return invalid("isv.invalid-method", "不存在的方法名")


def _alipay_trade(biz: dict) -> SandboxTrade | None:
    if biz.get("out_trade_no"):
        return services.find("alipay", str(biz["out_trade_no"]))
    if biz.get("trade_no"):
        return SandboxTrade.objects.filter(gateway="alipay", trade_no=str(biz["trade_no"])).first()
    return None


def _alipay_query(method: str, biz: dict) -> HttpResponse:
    trade = _alipay_trade(biz)
    if trade is None:
        return _alipay_refusal(method, "ACQ.TRADE_NOT_EXIST", "交易不存在")
    status = trade.effective_status
    amount = fen_to_yuan(trade.amount_fen)
    trade_status = {"wait": "WAIT_BUYER_PAY", "paid": "TRADE_SUCCESS", "closed": "TRADE_CLOSED"}[status]
    payload = {
        "code": "10000",
        "msg": "Success",
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_logon_id": "sandbox***@example.com",
        "total_amount": amount,
        "trade_status": trade_status,
    }
    if trade.paid_at:
        payload.update(
            {
                "buyer_pay_amount": amount,
                "receipt_amount": amount,
                "buyer_user_id": "2088102000000001",
                "send_pay_date": protocol.beijing(trade.paid_at),
            }
        )
    return _alipay_answer(method, payload)


def _alipay_refund(method: str, biz: dict) -> HttpResponse:
    trade = _alipay_trade(biz)
    try:
        amount_fen = services.parse_yuan(str(biz.get("refund_amount", "")))
        # Without out_request_no Alipay treats the call as the (single) full refund of the trade.
        refund_no = str(biz.get("out_request_no") or biz.get("out_trade_no") or biz.get("trade_no") or "")
        made, created = services.refund(
            trade, refund_no=refund_no, amount_fen=amount_fen, reason=str(biz.get("refund_reason", ""))
        )
    except services.Refused as exc:
        sub_code = {
            "not_found": "ACQ.TRADE_NOT_EXIST",
            "not_paid": "ACQ.TRADE_STATUS_ERROR",
            "exceeds": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
        }.get(exc.reason, "ACQ.INVALID_PARAMETER")
        return _alipay_refusal(method, sub_code, exc.message)
    trade = made.trade
    return _alipay_answer(
        method,
        {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": "sandbox***@example.com",
            "buyer_user_id": "2088102000000001",
            "fund_change": "Y" if created else "N",
            "refund_fee": fen_to_yuan(trade.refunded_fen),
            "send_back_fee": fen_to_yuan(made.amount_fen),
            "gmt_refund_pay": protocol.beijing(made.created_at),
        },
    )


# -- WeChat Pay v3 ----------------------------------------------------------------------------------
def _wechat_answer(status: int, payload: dict | None = None) -> HttpResponse:
    """An answer signed with the platform key, as the SDK verifies it (2xx answers)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload is not None else ""
    resp = HttpResponse(body.encode("utf-8"), status=status, content_type="application/json; charset=utf-8")
    k = keys.sandbox_keys()
    for name, value in protocol.wechat_signed_headers(
        body, k.wechat_platform_private_pem, keys.WECHAT_PLATFORM_PUBLIC_KEY_ID
    ).items():
        resp[name] = value
    resp["Request-ID"] = protocol.nonce(24)
    return resp


def _wechat_error(status: int, code: str, message: str) -> HttpResponse:
    return _wechat_answer(status, {"code": code, "message": message})


def wechat_api(view):
    """Verify the merchant's Authorization header, then call view(request, body_dict)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        auth = protocol.wechat_parse_authorization(request.headers.get("Authorization", ""))
        if auth is None:
            return _wechat_error(401, "SIGN_ERROR", "Authorization 头缺失或格式错误")
        k = keys.sandbox_keys()
        if auth["mchid"] != keys.WECHAT_MCHID:
            return _wechat_error(401, "SIGN_ERROR", "商户号与签名不匹配")
        if auth["serial_no"] != k.wechat_merchant_serial:
            return _wechat_error(401, "SIGN_ERROR", "商户证书序列号错误")
        try:
            skew = abs(time.time() - int(auth["timestamp"]))
        except ValueError:
            skew = None
        if skew is None or skew > WECHAT_MAX_SKEW:
            return _wechat_error(401, "SIGN_ERROR", "签名时间戳已过期")
        prefix = reverse("sandbox:index") + "wechat"
        path = request.get_full_path()[len(prefix) :]  # the path the merchant signed: /v3/...
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            return _wechat_error(400, "PARAM_ERROR", "请求体不是 UTF-8")
        message = protocol.wechat_request_message(
            request.method, path, auth["timestamp"], auth["nonce_str"], text
        )
        if not protocol.rsa_verify(k.wechat_merchant_public_pem, message, auth["signature"]):
            return _wechat_error(401, "SIGN_ERROR", "签名错误")
        body = {}
        if text:
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return _wechat_error(400, "PARAM_ERROR", "请求体不是合法的 JSON 对象")
        return view(request, body, *args, **kwargs)

    return csrf_exempt(sandbox_only(wrapped))


def _wechat_open(request, body: dict, kind: str) -> HttpResponse:
    if body.get("appid") != keys.WECHAT_APPID or body.get("mchid") != keys.WECHAT_MCHID:
        return _wechat_error(400, "APPID_MCHID_NOT_MATCH", "appid 和 mchid 不匹配")
    try:
        trade = services.wechat_open(kind, body)
    except services.Refused as exc:
        status, code = {"paid": (400, "ORDERPAID"), "closed": (400, "ORDER_CLOSED")}.get(
            exc.reason, (400, "PARAM_ERROR")
        )
        return _wechat_error(status, code, exc.message)
    url = request.build_absolute_uri(reverse("sandbox:pay", args=[trade.token]))
    if kind == "native":
        return _wechat_answer(200, {"code_url": url})
    return _wechat_answer(200, {"h5_url": f"{url}?prepay_id=wx{trade.trade_no}"})


@require_POST
@wechat_api
def wechat_native(request, body):
    return _wechat_open(request, body, "native")


@require_POST
@wechat_api
def wechat_h5(request, body):
    return _wechat_open(request, body, "h5")


@require_GET
@wechat_api
def wechat_query(request, body, out_trade_no):
    if request.GET.get("mchid") != keys.WECHAT_MCHID:
        return _wechat_error(400, "PARAM_ERROR", "mchid 参数错误")
    trade = services.find("wechat", out_trade_no)
    if trade is None:
        return _wechat_error(404, "ORDER_NOT_EXIST", "订单不存在")
    state = {"wait": "NOTPAY", "paid": "SUCCESS", "closed": "CLOSED"}[trade.effective_status]
    if state == "SUCCESS" and trade.refunded_fen:
        state = "REFUND"
    return _wechat_answer(
        200,
        protocol.wechat_transaction(
            mchid=keys.WECHAT_MCHID,
            appid=keys.WECHAT_APPID,
            out_trade_no=trade.out_trade_no,
            transaction_id=trade.trade_no,
            trade_type="NATIVE" if trade.kind == "native" else "MWEB",
            amount_fen=trade.amount_fen,
            success_time=trade.paid_at,
            trade_state=state,
        ),
    )


@require_POST
@wechat_api
def wechat_refund(request, body):
    amount = body.get("amount") or {}
    refund_fen, total_fen = amount.get("refund"), amount.get("total")
    if type(refund_fen) is not int or type(total_fen) is not int:
        return _wechat_error(400, "PARAM_ERROR", "amount.refund 与 amount.total 必须为整数（分）")
    if body.get("out_trade_no"):
        trade = services.find("wechat", str(body["out_trade_no"]))
    else:
        trade = SandboxTrade.objects.filter(
            gateway="wechat", trade_no=str(body.get("transaction_id", ""))
        ).first()
    try:
        made, _ = services.refund(
            trade,
            refund_no=str(body.get("out_refund_no", "")),
            amount_fen=refund_fen,
            reason=str(body.get("reason", "")),
            total_fen=total_fen,
        )
    except services.Refused as exc:
        status, code = {
            "not_found": (404, "RESOURCE_NOT_EXISTS"),
            "not_paid": (400, "INVALID_REQUEST"),
            "exceeds": (400, "INVALID_REQUEST"),
        }.get(exc.reason, (400, "PARAM_ERROR"))
        return _wechat_error(status, code, exc.message)
    trade = made.trade
    return _wechat_answer(
        200,
        {
            "refund_id": made.refund_id,
            "out_refund_no": made.refund_no,
            "transaction_id": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "success_time": protocol.rfc3339(made.created_at),
            "create_time": protocol.rfc3339(made.created_at),
            "status": "SUCCESS",
            "funds_account": "AVAILABLE",
            "amount": {
                "total": trade.amount_fen,
                "refund": made.amount_fen,
                "payer_total": trade.amount_fen,
                "payer_refund": made.amount_fen,
                "settlement_total": trade.amount_fen,
                "settlement_refund": made.amount_fen,
                "discount_refund": 0,
                "currency": "CNY",
            },
        },
    )


# -- the cashier page -------------------------------------------------------------------------------
def _safe_redirect(request, url: str) -> str:
    hosts = {request.get_host(), urlparse(settings.SITE_URL).netloc}
    return url if url and url_has_allowed_host_and_scheme(url, allowed_hosts=hosts) else ""


@sandbox_only
@require_http_methods(["GET", "POST"])
def pay(request, token):
    """The cashier: Alipay's page after gateway.do, WeChat Pay's page behind code_url / h5_url."""
    trade = get_object_or_404(SandboxTrade, token=token)
    asked = request.POST.get("redirect_url") or request.GET.get("redirect_url", "")
    redirect_url = _safe_redirect(request, asked)
    if request.method == "POST":
        outcome = request.POST.get("outcome", "")
        if outcome not in services.OUTCOMES:
            return _message(request, "无效操作", "请从支付页面选择操作。", status=400, gateway=trade.gateway)
        try:
            done = services.settle(trade, outcome, redirect_url=redirect_url)
        except services.Refused as exc:
            return _message(request, "无法支付", exc.message, status=409, gateway=trade.gateway)
        if done.redirect_url:
            return redirect(done.redirect_url)
        title = "支付成功" if done.trade.status == SandboxTrade.Status.PAID else "已取消支付"
        return _message(request, title, "请回到商户页面查看订单状态。", gateway=trade.gateway)
    back = redirect_url if trade.gateway == "wechat" else trade.return_url
    return render(
        request,
        "sandbox/pay.html",
        {
            "trade": trade,
            "amount_yuan": fen_to_yuan(trade.amount_fen),
            "redirect_url": redirect_url,
            "status": trade.effective_status,
            "back": back,
        },
    )
