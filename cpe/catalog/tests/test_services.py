"""Prices and year rules are finance's, and every change is in the audit chain with its
before and after values (attack review, defect 5)."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from cpe.backoffice.roles import ROLES
from cpe.catalog import services
from cpe.catalog.errors import CatalogError
from cpe.catalog.models import Course, Product, TrainingYear
from cpe.core.audit import audit_verify
from cpe.core.models import AuditEvent

STAFF_PASSWORD = "Staff-pass-2026-long"


@pytest.fixture
def staff(db):
    from cpe.accounts.models import User
    from cpe.backoffice.services import roles_sync

    roles_sync()

    def _make(role):
        user = User.objects.create_user(f"staff-{role}", STAFF_PASSWORD, name=role, is_staff=True)
        user.groups.add(Group.objects.get(name=ROLES[role][0]))
        return User.objects.get(pk=user.pk)  # fresh permission cache

    return _make


def _snapshot(model, pk):
    return model.objects.filter(pk=pk).values().get()


# --- the service ------------------------------------------------------------------------------
def test_finance_changes_a_price_and_the_audit_chain_has_before_and_after(staff, annual):
    finance = staff("finance")
    product = Product.objects.get(pk=annual.pk)
    product.price_fen, product.title = 16800, "2026 年度课程（新价）"
    services.product_save(product=product, actor=finance, ip="10.0.0.9")
    assert Product.objects.get(pk=annual.pk).price_fen == 16800
    event = AuditEvent.objects.get(event_type="catalog.product_changed")
    assert event.data["changes"] == {
        "price_fen": [19800, 16800],
        "title": ["2026 年度课程", "2026 年度课程（新价）"],
    }
    assert (event.actor_id, event.subject_type, event.subject_id, event.ip) == (
        finance.pk,
        "catalog.product",
        str(annual.pk),
        "10.0.0.9",
    )
    assert audit_verify().ok


@pytest.mark.parametrize("role", ["content_editor", "operator", "reviewer", "auditor"])
def test_other_roles_cannot_change_a_price_and_nothing_changes(staff, annual, role):
    actor = staff(role)
    before, events = _snapshot(Product, annual.pk), AuditEvent.objects.count()
    for field, value in (("price_fen", 1), ("validity_days", 3650)):
        product = Product.objects.get(pk=annual.pk)
        setattr(product, field, value)
        with pytest.raises(CatalogError) as exc:
            services.product_save(product=product, actor=actor)
        assert exc.value.code == "price_finance_only" and "财务" in exc.value.message
    # Not even a new product (it sets a price).
    with pytest.raises(CatalogError):
        services.product_save(
            product=Product(code="X", title="X", year=annual.year, price_fen=1), actor=actor
        )
    assert _snapshot(Product, annual.pk) == before and not Product.objects.filter(code="X").exists()
    assert AuditEvent.objects.count() == events


def test_year_rules_only_by_finance_audited(staff, annual):
    editor, year = staff("content_editor"), TrainingYear.objects.get(pk=annual.year_id)
    before, events = _snapshot(TrainingYear, year.pk), AuditEvent.objects.count()
    for field, value in (
        ("required_hours", 1),
        ("professional_min_hours", 0),
        ("credits_per_hour", 9),
        ("is_open", False),
    ):
        changed = TrainingYear.objects.get(pk=year.pk)
        setattr(changed, field, value)
        with pytest.raises(CatalogError) as exc:
            services.training_year_save(year=changed, actor=editor)
        assert exc.value.code == "year_rules_finance_only"
    assert _snapshot(TrainingYear, year.pk) == before and AuditEvent.objects.count() == events
    changed = TrainingYear.objects.get(pk=year.pk)
    changed.required_hours, changed.professional_min_hours = 72, 48
    services.training_year_save(year=changed, actor=staff("finance"))
    event = AuditEvent.objects.get(event_type="catalog.year_changed")
    assert event.data["changes"] == {"required_hours": [90, 72], "professional_min_hours": [60, 48]}


def test_creating_a_product_is_audited_with_its_price(staff, annual):
    product = services.product_save(
        product=Product(
            code="2026-C1",
            title="会计准则",
            kind="single",
            year=annual.year,
            course=Course.objects.get(code="C1"),
            price_fen=3000,
        ),
        actor=staff("finance"),
    )
    event = AuditEvent.objects.get(event_type="catalog.product_created")
    assert event.subject_id == str(product.pk)
    changes = event.data["changes"]
    assert changes["price_fen"] == [None, 3000] and changes["validity_days"][0] is None


def test_a_save_that_changes_nothing_writes_no_event(staff, annual):
    events = AuditEvent.objects.count()
    services.product_save(product=Product.objects.get(pk=annual.pk), actor=staff("content_editor"))
    assert AuditEvent.objects.count() == events


# --- the staff site ---------------------------------------------------------------------------
def _client(user):
    c = Client()
    c.force_login(user)
    return c


def _product_post(product, **overrides):
    data = {
        "code": product.code,
        "title": product.title,
        "kind": product.kind,
        "year": product.year_id,
        "course": product.course_id or "",
        "price_fen": product.price_fen,
        "validity_days": product.validity_days,
        "is_active": "on" if product.is_active else "",
    }
    data.update(overrides)
    return data


def test_content_editor_cannot_change_a_price_in_the_admin_but_keeps_courses(staff, annual):
    editor = _client(staff("content_editor"))
    url = reverse("admin:catalog_product_change", args=[annual.pk])
    before, events = _snapshot(Product, annual.pk), AuditEvent.objects.count()
    r = editor.post(url, _product_post(annual, price_fen=1))
    assert r.status_code == 403
    year_url = reverse("admin:catalog_trainingyear_change", args=[annual.year_id])
    r = editor.post(
        year_url,
        {
            "year": 2026,
            "required_hours": 1,
            "credits_per_hour": 1,
            "professional_min_hours": 0,
            "is_open": "on",
        },
    )
    assert r.status_code == 403
    add = editor.post(reverse("admin:catalog_product_add"), _product_post(annual, code="NEW"))
    assert add.status_code == 403 and not Product.objects.filter(code="NEW").exists()
    assert _snapshot(Product, annual.pk) == before
    assert TrainingYear.objects.get(pk=annual.year_id).required_hours == 90
    assert AuditEvent.objects.count() == events
    # What stays theirs: reading years and products, editing courses.
    assert editor.get(url).status_code == 200 and editor.get(year_url).status_code == 200
    course = Course.objects.get(code="C1")
    assert editor.get(reverse("admin:catalog_course_change", args=[course.pk])).status_code == 200


def test_finance_changes_a_price_in_the_admin_and_it_is_audited(staff, annual):
    finance = _client(staff("finance"))
    url = reverse("admin:catalog_product_change", args=[annual.pk])
    r = finance.post(url, _product_post(annual, price_fen=9900))
    assert r.status_code == 302
    assert Product.objects.get(pk=annual.pk).price_fen == 9900
    event = AuditEvent.objects.get(event_type="catalog.product_changed")
    assert event.data["changes"] == {"price_fen": [19800, 9900]}


def test_change_permission_without_price_permission_leaves_the_price_alone(staff, annual):
    from django.contrib.auth.models import Permission

    from cpe.accounts.models import User

    user = staff("content_editor")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="catalog", codename="change_product")
    )
    user = User.objects.get(pk=user.pk)
    c = _client(user)
    url = reverse("admin:catalog_product_change", args=[annual.pk])
    assert 'name="price_fen"' not in c.get(url).content.decode()  # shown read-only
    r = c.post(url, _product_post(annual, price_fen=1, validity_days=9999, title="新名称"))
    assert r.status_code == 302
    product = Product.objects.get(pk=annual.pk)
    assert (product.price_fen, product.validity_days, product.title) == (
        19800,
        annual.validity_days,
        "新名称",
    )
    assert AuditEvent.objects.get(event_type="catalog.product_changed").data["changes"] == {
        "title": ["2026 年度课程", "新名称"]
    }
