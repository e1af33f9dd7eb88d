from django.shortcuts import render
from django.utils import timezone

from . import hooks
from .models import Category
from .selectors import catalog_years


def catalog(request):
    years = catalog_years()
    for y in years:
        y.by_category = [
            (label, [c for c in y.published if c.category == value]) for value, label in Category.choices
        ]
    if request.user.is_authenticated and not request.user.is_staff:
        # orders.selectors.products_held, registered by OrdersConfig.ready (orders sits above catalog).
        held = hooks.products_held(request.user, timezone.now())
        for y in years:
            for p in y.on_sale:  # the rows the page shows
                p.held = held.get(p.pk, "")
    return render(request, "catalog/catalog.html", {"years": years})
