"""The ID card photo of an identity change request: JPEG/PNG only, size-capped, stored
encrypted, shown only to reviewers through an audited view, deleted with the decision."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from cpe.accounts import policy
from cpe.accounts.models import IdentityChangeRequest, IdentityDocument, User
from cpe.accounts.tests.factories import make_id_number
from cpe.core.models import AuditEvent

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0" + b"JFIF-test" * 50


@pytest.mark.parametrize(
    "data, ok, message",
    [
        (PNG, "image/png", ""),
        (JPEG, "image/jpeg", ""),
        (b"", None, "空文件"),
        (b"GIF89a" + b"x" * 100, None, "只能是 JPG 或 PNG"),
        (b"%PDF-1.7 \xff\xd8\xff", None, "只能是 JPG 或 PNG"),  # the signature must lead
        (b"\xff\xd8\xff" + b"x" * policy.ID_PHOTO_MAX_BYTES, None, "不能超过 2 MB"),
    ],
)
def test_photo_rule(data, ok, message):
    content_type, error = policy.id_photo_check(data)
    assert content_type == ok and message in error
    assert bool(error) == (ok is None)


def test_photo_at_the_cap_is_accepted():
    assert policy.id_photo_check(b"\xff\xd8\xff" + b"x" * (policy.ID_PHOTO_MAX_BYTES - 3))[0] == "image/jpeg"


@pytest.fixture
def staff_clients(db, django_user_model):
    from django.contrib.auth.models import Group

    from cpe.backoffice.services import roles_sync

    roles_sync()
    out = {}
    for username, group in (("rev", "审核人员"), ("aud", "审计人员")):
        user = django_user_model.objects.create_user(username, "x", is_staff=True, name=username)
        user.groups.add(Group.objects.get(name=group))
        c = Client()
        c.force_login(user)
        out[username] = (c, user)
    return out


def _ask(client, learner, photo, name="photo.png"):
    client.force_login(learner)
    return client.post(
        reverse("accounts:identity_change"),
        {
            "field": "id_number",
            "new_value": make_id_number(seq="955"),
            "reason": "录入错误",
            "id_photo": SimpleUploadedFile(name, photo, content_type="image/png"),
        },
    )


def test_photo_encrypted_reviewer_only_audited_and_deleted_on_decision(
    client, register_learner, staff_clients
):
    learner = register_learner(name="巴特尔")
    assert _ask(client, learner, PNG).status_code == 302
    req = IdentityChangeRequest.objects.get(user=learner)
    doc = IdentityDocument.objects.get(request=req)
    assert (doc.content_type, doc.size) == ("image/png", len(PNG))
    with connection.cursor() as cur:  # what the database holds
        cur.execute(f"SELECT data FROM {IdentityDocument._meta.db_table} WHERE id = %s", [doc.pk])
        stored = cur.fetchone()[0]
    # Ciphertext (crypto's stored form), not the image's bytes in any base64 alignment. (Not a
    # search for the letters "PNG": random base64 contains them now and then.)
    assert stored.startswith("e1:")
    assert all(base64.b64encode(PNG[k:]).decode()[8:48] not in stored for k in range(3))

    document = reverse("admin:accounts_identitychangerequest_document", args=[req.pk])
    auditor, _ = staff_clients["aud"]
    assert auditor.get(document).status_code == 403
    assert not AuditEvent.objects.filter(event_type="identity_change.document_viewed").exists()

    reviewer, reviewer_user = staff_clients["rev"]
    reveal = reviewer.get(
        reverse("admin:accounts_identitychangerequest_reveal", args=[req.pk])
    ).content.decode()
    assert document in reveal
    r = reviewer.get(document)
    assert r.status_code == 200 and r.content == PNG and r["Content-Type"] == "image/png"
    assert r["X-Content-Type-Options"] == "nosniff" and "no-store" in r["Cache-Control"]
    event = AuditEvent.objects.get(event_type="identity_change.document_viewed")
    assert event.actor_id == reviewer_user.pk and event.subject_id == str(req.pk)

    change = reverse("admin:accounts_identitychangerequest_change", args=[req.pk])
    reviewer.post(change, {"decision_note": "与照片一致", "_approve": "1"})
    req.refresh_from_db()
    assert req.status == "approved"
    assert not IdentityDocument.objects.filter(request=req).exists()
    assert reviewer.get(document).status_code == 404
    decided = AuditEvent.objects.get(event_type="identity_change.approved")
    assert decided.data["id_photo_deleted"] is True


@pytest.mark.parametrize(
    "photo, name, message",
    [
        (b"GIF89a" + b"x" * 100, "card.png", "只能是 JPG 或 PNG"),  # named .png, is a GIF
        (b"\xff\xd8\xff" + b"x" * policy.ID_PHOTO_MAX_BYTES, "big.jpg", "不能超过 2 MB"),
    ],
)
def test_bad_photo_refused_and_nothing_changes(client, register_learner, photo, name, message):
    learner = register_learner(name="巴特尔")
    before = User.objects.get(pk=learner.pk).id_number
    r = _ask(client, learner, photo, name)
    assert r.status_code == 200 and message in r.content.decode()
    assert not IdentityChangeRequest.objects.filter(user=learner).exists()
    assert not IdentityDocument.objects.exists()
    assert User.objects.get(pk=learner.pk).id_number == before


def test_request_without_photo_still_works(client, register_learner):
    learner = register_learner(name="巴特尔")
    client.force_login(learner)
    r = client.post(
        reverse("accounts:identity_change"), {"field": "name", "new_value": "巴图", "reason": "改名"}
    )
    assert r.status_code == 302
    assert (
        IdentityChangeRequest.objects.filter(user=learner).exists() and not IdentityDocument.objects.exists()
    )
