from django.shortcuts import render

from .models import Category
from .selectors import catalog_years


def catalog(request):
    years = list(catalog_years())
    for y in years:
        y.by_category = [(label, [c for c in y.courses.all() if c.category == value])
                         for value, label in Category.choices]
    return render(request, "catalog/catalog.html", {"years": years})
