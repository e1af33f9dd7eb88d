import pytest
from django.utils import timezone

from cpe.agreements.models import AgreementAcceptance
from cpe.agreements.services import agreement_accept, agreement_publish
from cpe.core.errors import ApplicationError

pytestmark = pytest.mark.django_db


def test_acceptances_are_never_overwritten(register_learner, agreement_v1):
    user = register_learner()
    row = AgreementAcceptance.objects.get(user=user)
    row.ip = "1.2.3.4"
    with pytest.raises(ValueError):
        row.save()
    with pytest.raises(ValueError):
        row.delete()
    agreement_accept(user=user, version=agreement_v1, ip="10.0.0.9", user_agent="again")
    assert AgreementAcceptance.objects.filter(user=user).count() == 2
    assert AgreementAcceptance.objects.get(pk=row.pk).ip == "127.0.0.1"


def test_publish_refuses_duplicate_version_and_minor_without_major(db):
    with pytest.raises(ApplicationError):
        agreement_publish(version="0.9", title="t", body="b", is_minor=True, effective_at=timezone.now())
    agreement_publish(version="1.0", title="t", body="b", is_minor=False, effective_at=timezone.now())
    with pytest.raises(ApplicationError):
        agreement_publish(version="1.0", title="t", body="c", is_minor=False, effective_at=timezone.now())


def test_minor_edit_amends_the_major_in_force(db):
    v1 = agreement_publish(version="1.0", title="t", body="b", is_minor=False, effective_at=timezone.now())
    v11 = agreement_publish(version="1.0.1", title="t", body="b!", is_minor=True, effective_at=timezone.now())
    assert v11.amends == v1 and v11.major_id == v1.id
