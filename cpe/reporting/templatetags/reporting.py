from django import template

register = template.Library()


@register.inclusion_tag("reporting/_report_state.html")
def report_state(states, record_id):
    """{% load reporting %}{% report_state report_states r.pk %}: the AIS report state of one
    credit record, from selectors.report_states_for_user (computed once per page)."""
    return {"state": (states or {}).get(record_id)}
