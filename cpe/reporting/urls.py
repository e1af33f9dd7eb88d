from django.urls import path

from . import views

app_name = "reporting"
urlpatterns = [
    path("recheck/", views.recheck, name="recheck"),
    path("staff/reconcile/", views.staff_reconcile, name="staff_reconcile"),
    path("staff/exports/", views.staff_exports, name="staff_exports"),
    path("staff/exports/table/", views.staff_exports_table, name="staff_exports_table"),
    path("staff/exports/<int:pk>/download/", views.staff_export_download, name="staff_export_download"),
]
