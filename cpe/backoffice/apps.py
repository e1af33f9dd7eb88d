from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync(sender, **kwargs):
    # Sent once per migrated app, after that app's permissions exist; syncing each time is
    # cheap and idempotent, and the last call sees every app's permissions.
    from .services import roles_sync

    roles_sync()


class BackofficeConfig(AppConfig):
    name = "cpe.backoffice"
    label = "backoffice"
    verbose_name = "管理后台"

    def ready(self):
        from django.contrib import admin

        admin.site.site_header = "内蒙古会计人员继续教育平台 · 管理后台"
        admin.site.site_title = "管理后台"
        admin.site.index_title = "工作台"
        post_migrate.connect(_sync, dispatch_uid="cpe.backoffice.roles_sync")
