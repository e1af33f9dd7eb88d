from django import template

from cpe.accounts.states import AisStatus
from cpe.core.ais_labels import PERSON_EXPLANATIONS

register = template.Library()


@register.inclusion_tag("reporting/_report_state.html")
def report_state(states, record_id):
    """{% load reporting %}{% report_state report_states r.pk %}: the AIS report state of one
    credit record, from selectors.report_states_for_user (computed once per page)."""
    return {"state": (states or {}).get(record_id)}


@register.inclusion_tag("reporting/_person_status.html")
def ais_person_status(user):
    """{% load reporting %}{% ais_person_status user %}: the learner's AIS status, as a badge
    and the plain explanation, in the words of core.ais_labels (dashboard, purchase page)."""

    status = AisStatus(getattr(user, "ais_status", AisStatus.UNKNOWN) or AisStatus.UNKNOWN)
    return {"status": status, "label": status.label, "explanation": PERSON_EXPLANATIONS[status.value]}
