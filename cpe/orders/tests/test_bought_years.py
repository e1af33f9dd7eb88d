"""orders tells notices which years a learner bought (registered at start-up), so the learner sees
the announcements to that year's buyers; notices never imports orders."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cpe.invoicing.tests.factories import make_order
from cpe.notices import selectors as notices
from cpe.notices.models import Announcement
from cpe.orders import selectors

pytestmark = pytest.mark.django_db


def test_orders_registered_its_reader_with_notices():
    assert notices.bought_year_ids_reader() is selectors.bought_year_ids


def test_a_buyer_of_the_year_sees_its_announcement_and_an_unpaid_order_does_not_count(
    client, register_learner, django_user_model
):
    learner, other = register_learner(), register_learner()
    order = make_order(learner, paid_at=timezone.now() - timedelta(days=1))
    make_order(other, paid_at=timezone.now() - timedelta(days=1), status="pending")
    buyers = Announcement.objects.create(
        title="本年度学员通知",
        body="x",
        audience="year_buyers",
        year=order.product.year,
        published_at=timezone.now() - timedelta(hours=1),
    )
    assert selectors.bought_year_ids(learner) == {order.product.year_id}
    client.force_login(learner)
    assert buyers.title in client.get("/notices/").content.decode()
    assert client.get(f"/notices/{buyers.pk}/").status_code == 200
    client.force_login(other)
    assert buyers.title not in client.get("/notices/").content.decode()
