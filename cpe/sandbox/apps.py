from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "cpe.sandbox"
    label = "sandbox"
    verbose_name = "支付沙箱（仅开发/测试）"

    def ready(self):
        from . import checks  # noqa: F401
