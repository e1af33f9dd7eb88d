from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from cpe.core.storage import file_response
from cpe.orders.models import Order

from . import policy, selectors, services
from .errors import InvoiceError
from .forms import InvoiceRequestForm


@login_required
def invoice_list(request):
    """我的发票: issued invoices with their PDFs, and the orders that can still be invoiced."""
    invoices = list(selectors.invoices_of_user(request.user))
    orders = list(
        Order.objects.filter(
            user=request.user,
            paid_at__isnull=False,
            status__in=[policy.ORDER_PAID, policy.ORDER_REFUND_REQUESTED],
        )
    )
    states = selectors.invoice_state_for_orders(request.user, orders)
    open_orders = [(o, states[o.pk]) for o in orders if states[o.pk].invoice is None]
    return render(request, "invoicing/list.html", {"invoices": invoices, "open_orders": open_orders})


@login_required
def invoice_request_view(request, order_number):
    """申请发票 for one of the learner's orders; says plainly when it can no longer be invoiced."""
    order = selectors.order_of_user(request.user, order_number)
    if order is None:
        raise Http404("订单不存在")
    form = InvoiceRequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            try:
                invoice = services.invoice_request(
                    user=request.user,
                    order_number=order.number,
                    buyer_type=d["buyer_type"],
                    buyer_name=d["buyer_name"],
                    unit_kind=d["unit_kind"],
                    taxpayer_id=d["taxpayer_id"],
                )
            except InvoiceError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, f"发票已开具，发票号码 {invoice.number}。")
                return redirect("invoicing:list")
    state = selectors.invoice_state_for_orders(request.user, [order])[order.pk]
    return render(
        request,
        "invoicing/request.html",
        {
            "order": order,
            "state": state,
            "form": form,
            "item_name": policy.ITEM_NAME,
            "tax_rate": policy.tax_rate_label(services.tax_rate_permille()),
        },
        status=status,
    )


@login_required
@never_cache
def invoice_pdf(request, number):
    """The PDF, for the learner whose order it is; anyone else gets 404 (not 403: the number's
    existence is not revealed)."""
    invoice = selectors.invoice_of_user(request.user, number)
    if invoice is None or not invoice.pdf:
        raise Http404("发票不存在")
    try:  # a redirect to a short-lived signed URL of the object store, or the file streamed
        return file_response(
            invoice.pdf.storage,
            invoice.pdf.name,
            download_name=f"电子发票_{invoice.number}.pdf",
            content_type="application/pdf",
        )
    except FileNotFoundError:
        raise Http404("发票文件不存在") from None


def invoice_verify(request, token):
    """Public: the facts that expose an edited PDF, with a person's name masked."""
    invoice = selectors.invoice_by_token(token)
    if invoice is None:
        response = render(request, "invoicing/verify.html", {"invoice": None}, status=404)
    else:
        response = render(
            request,
            "invoicing/verify.html",
            {
                "invoice": invoice,
                "reversal": None if invoice.is_red else getattr(invoice, "reversal", None),
                "checked_at": timezone.now(),
            },
        )
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "no-store"
    return response
