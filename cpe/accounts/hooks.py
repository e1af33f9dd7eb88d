"""What accounts asks of the apps above it, without importing them (docs/architecture.md): each
hook is filled by the higher app's AppConfig.ready() (cpe.core.hooks)."""

from cpe.core.hooks import Hook

# fn(user, *, agreement_version, ip, user_agent, at), inside the registration's transaction, in
# order: agreements records the acceptance (10), reporting checks the person in the AIS (20).
registered = Hook("accounts.registered")
# fn(user) after an approved change of name or ID number (reporting: check the AIS again).
identity_changed = Hook("accounts.identity_changed")
# fn(at) -> the agreement version a new learner accepts (agreements).
agreement_to_accept = Hook("accounts.agreement_to_accept", single=True)
# fn(*, user_id, reason, at, actor) -> the number of play sessions revoked (learning).
play_sessions_revoke = Hook("accounts.play_sessions_revoke", single=True)
# fn(user, at, *, restorable) after a termination: the learner is told (moderation).
terminated = Hook("accounts.terminated")
# fn(*, user, ip, user_agent) -> True when a ban refuses this sign-in (moderation).
login_refused = Hook("accounts.login_refused", single=True)
# fn(user, at) -> the dashboard's studying part: {"enrolments", "credit_years", "year_plan"}
# (credits, over learning's enrolments).
dashboard_studies = Hook("accounts.dashboard_studies", single=True)
