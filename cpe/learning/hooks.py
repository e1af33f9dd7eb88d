"""What learning asks of the apps above it, without importing them (docs/architecture.md): each
hook is filled by the higher app's AppConfig.ready() (cpe.core.hooks)."""

from cpe.core.hooks import Hook

# fn(user_ids, at) -> the ids among them that an account ban holds now, read from the database
# (moderation).
banned_user_ids = Hook("learning.banned_user_ids", single=True)
