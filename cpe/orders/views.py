import segno
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from cpe.accounts.signals import client_ip
from cpe.accounts.states import AisStatus
from cpe.catalog.models import Product
from cpe.core.decorators import learner_required

from . import hooks, policy, selectors, services
from .errors import OrderError
from .models import Order
from .states import OrderStatus


def _channels(request):
    """Every channel, phone ones and computer ones, each marked with its device and whether the
    server offers it to this user agent (policy.channels_for); the page may switch sets by the
    screen's width (static/js/pay-channels.js)."""
    offered = policy.channels_for(phone=policy.is_phone_user_agent(request.META.get("HTTP_USER_AGENT", "")))
    return [
        {
            "value": ch.value,
            "label": ch.label,
            "device": "phone" if ch in policy.PHONE_CHANNELS else "pc",
            "offered": ch in offered,
        }
        for ch in (*offered, *(c for c in (*policy.PHONE_CHANNELS, *policy.PC_CHANNELS) if c not in offered))
    ]


def _start(request, order, channel):
    start = services.payment_start(
        order=order,
        channel=channel,
        client_ip=client_ip(request) or "127.0.0.1",
        notify_url=settings.SITE_URL + reverse("orders:notify", args=[order.gateway or _gw(channel)]),
        return_url=settings.SITE_URL + reverse("orders:result", args=[order.number]),
    )
    if start.kind == "qr":
        request.session[f"qr:{order.number}"] = start.url
        return redirect("orders:qr", number=order.number)
    return redirect(start.url)


def _gw(channel):
    from .states import CHANNEL_GATEWAY

    return CHANNEL_GATEWAY[channel]


@learner_required
def buy(request, code):
    product = get_object_or_404(Product.objects.select_related("year", "course"), code=code, is_active=True)
    channels = _channels(request)
    error = None
    if request.method == "GET":
        refused = services.purchase_check(user=request.user, product=product, at=timezone.now())
        if refused.code == "not_on_sale":  # said at once, not after the learner has chosen how to pay
            return render(request, "orders/buy.html", {"product": product, "refused": refused})
    if request.method == "POST":
        channel = request.POST.get("channel", "")
        try:
            if not policy.channel_accepted(channel):
                raise OrderError("bad_channel", "请选择支付方式。")
            order = services.order_create(
                user=request.user, product_code=code, ais_confirmed=bool(request.POST.get("ais_confirmed"))
            )
            return _start(request, order, channel)
        except OrderError as exc:
            error = exc.message
    return render(
        request,
        "orders/buy.html",
        {
            "product": product,
            "channels": channels,
            "error": error,
            "phone_max_px": policy.PHONE_SCREEN_MAX_PX,
            "ais_found": request.user.ais_status == AisStatus.FOUND,
            "refund_days": policy.REFUND_WINDOW.days,
        },
        status=400 if error else 200,
    )


@learner_required
@require_POST
def pay(request, number):
    order = get_object_or_404(Order, number=number, user=request.user)
    try:
        if not policy.channel_accepted(request.POST.get("channel", "")):
            raise OrderError("bad_channel", "请选择支付方式。")
        return _start(request, order, request.POST["channel"])
    except OrderError as exc:
        messages.error(request, exc.message)
        return redirect("orders:list")


@learner_required
def qr(request, number):
    """WeChat Native: the QR code to scan, and a status that refreshes itself."""
    order = get_object_or_404(Order, number=number, user=request.user)
    code_url = request.session.get(f"qr:{number}")
    if order.status != OrderStatus.PENDING or not code_url:
        return redirect("orders:result", number=number)
    svg = segno.make(code_url, error="m").svg_inline(scale=6, border=2)
    return render(
        request,
        "orders/qr.html",
        {
            "order": order,
            "qr_svg": svg,
            "code_url": code_url,
            "deadline": policy.order_pay_deadline(order.created_at),
        },
    )


@learner_required
def status(request, number):
    order = get_object_or_404(Order, number=number, user=request.user)
    if order.status != OrderStatus.PENDING:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("orders:result", args=[number])
        return response
    return HttpResponse("等待支付……", content_type="text/plain; charset=utf-8")


@learner_required
def result(request, number):
    """The return page: shows the state; asks the gateway if no notification came yet."""
    order = get_object_or_404(Order.objects.select_related("product"), number=number, user=request.user)
    order = services.order_sync(order=order)
    enrolment = getattr(order, "enrolment", None) if order.status != OrderStatus.PENDING else None
    pending = policy.pending_order_view(order.gateway_status) if order.status == OrderStatus.PENDING else ""
    channels = _channels(request)
    offered = {c["value"] for c in channels if c["offered"]}
    return render(
        request,
        "orders/result.html",
        {
            "order": order,
            "enrolment": enrolment,
            "pending": pending,
            "channels": channels,
            "selected": order.channel if order.channel in offered else "",
            "phone_max_px": policy.PHONE_SCREEN_MAX_PX,
            "deadline": policy.order_pay_deadline(order.created_at),
        },
    )


@learner_required
def order_list(request):
    now = timezone.now()
    orders = list(selectors.orders_of(request.user))
    rows = []
    # invoicing.selectors.invoice_state_for_orders (registered by InvoicingConfig.ready).
    invoice_states = hooks.invoice_states(request.user, orders, at=now)
    done_by_year = {}

    def year_done(year):
        """Asked once per training year, not once per order."""
        if year.pk not in done_by_year:
            done_by_year[year.pk] = selectors.year_task_complete(request.user, year)
        return done_by_year[year.pk]

    for o in orders:
        refund = policy.refund_decision(
            order_status=o.status, paid_at=o.paid_at, at=now, year_complete=year_done(o.product.year)
        )
        enrolment = getattr(o, "enrolment", None)
        # 再次购买 only for an expired course that can be bought now (the buy page's own rule)
        rebuy = (
            o.status == OrderStatus.PAID
            and enrolment is not None
            and enrolment.valid_until < now
            and services.purchase_check(user=request.user, product=o.product, at=now).allowed
        )
        rows.append(
            {
                "order": o,
                "refund": refund,
                "enrolment": enrolment,
                "rebuy": rebuy,
                "last_refund": next(iter(o.refund_list), None),
                "invoice": invoice_states.get(o.pk),
                "refund_deadline": policy.refund_deadline(o.paid_at) if o.paid_at else None,
            }
        )
    return render(
        request,
        "orders/list.html",
        {
            "rows": rows,
            "channels": _channels(request),
            "now": now,
            "credits_notice": policy.REFUND_CREDITS_NOTICE,
            "phone_max_px": policy.PHONE_SCREEN_MAX_PX,
        },
    )


@learner_required
@require_POST
def cancel(request, number):
    try:
        services.order_cancel(user=request.user, order_number=number)
        messages.success(request, "订单已取消。")
    except OrderError as exc:
        messages.error(request, exc.message)
    return redirect("orders:list")


@learner_required
def refund(request, number):
    order = get_object_or_404(Order.objects.select_related("product__year"), number=number, user=request.user)
    decision = policy.refund_decision(
        order_status=order.status,
        paid_at=order.paid_at,
        at=timezone.now(),
        year_complete=selectors.year_task_complete(request.user, order.product.year),
    )
    error = None
    if request.method == "POST":
        try:
            services.refund_request(
                user=request.user, order_number=number, reason=request.POST.get("reason", "")
            )
        except OrderError as exc:
            error = exc.message
        else:
            messages.success(request, "退款申请已提交，审核结果将通过短信通知您。")
            return redirect("orders:list")
    return render(
        request,
        "orders/refund.html",
        {
            "order": order,
            "decision": decision,
            "error": error,
            "deadline": policy.refund_deadline(order.paid_at) if order.paid_at else None,
            "credits_notice": policy.REFUND_CREDITS_NOTICE,
            "earned": selectors.credits_under_order(order),
        },
        status=400 if error else 200,
    )


def _declared_length(request) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


@csrf_exempt
@require_POST
@ratelimit(key="ip", group="orders.notify", rate=policy.NOTIFY_RATE_PER_IP, method="POST", block=True)
def notify(request, gateway):
    """The gateways' asynchronous notifications (the truth about payment, rules R4.2). Open to
    anybody, so bounded: throttled per client address (429, the gateway retries later), and a
    body over policy.NOTIFY_MAX_BODY_BYTES is refused with 413 before it is read or parsed."""
    if gateway not in settings.PAYMENT_GATEWAYS:
        raise Http404
    too_large = HttpResponse("通知内容过大。", status=413, content_type="text/plain; charset=utf-8")
    if policy.notification_body_too_large(_declared_length(request)):
        return too_large
    body = request.read(policy.NOTIFY_MAX_BODY_BYTES + 1)  # never more than the limit + 1 byte
    if policy.notification_body_too_large(None, len(body)):
        return too_large
    headers = {k: v for k, v in request.headers.items()}
    answer = services.notification_receive(gateway_name=gateway, headers=headers, body=body)
    return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
