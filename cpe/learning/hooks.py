"""What learning asks of the apps above it, without importing them (docs/architecture.md): each
hook is filled by the higher app's AppConfig.ready() (cpe.core.hooks)."""

from cpe.core.hooks import Hook

# fn(user_ids, at) -> the ids among them that an account ban holds now, read from the database
# (moderation).
banned_user_ids = Hook("learning.banned_user_ids", single=True)

# fn(user, product, at) -> orders.services.purchase_check's answer (allowed, reason): whether the
# product can be bought now, for the refusal page's 重新购买 (orders).
purchase_check = Hook("learning.purchase_check", single=True)
