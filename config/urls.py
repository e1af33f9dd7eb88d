from django.contrib import admin
from django.urls import include, path

from config.api import api
from cpe.core import views as core_views
from cpe.notices import views as notice_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/", include("cpe.accounts.urls")),
    path("agreement/", include("cpe.agreements.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("courses/", include("cpe.catalog.urls")),
    path("orders/", include("cpe.orders.urls")),
    path("learn/", include("cpe.learning.urls")),
    path("exams/", include("cpe.exams.urls")),
    path("credits/", include("cpe.credits.urls")),
    path("reporting/", include("cpe.reporting.urls")),
    path("invoices/", include("cpe.invoicing.urls")),
    path("sandbox/", include("cpe.sandbox.urls")),
    path("support/", include("cpe.support.urls")),
    path("notices/", include("cpe.notices.urls")),
    path("restricted/", include("cpe.moderation.urls")),  # moderation.policy.SANCTIONED_COPY_PATH
    path("dev/outbox/", notice_views.dev_outbox, name="dev_outbox"),
]
