from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("register/", views.register, name="register"),
    path("register/code/", views.register_code, name="register_code"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("profile/", views.profile, name="profile"),
    path("profile/edit/", views.profile_edit, name="profile_edit"),
    path("profile/mobile/", views.mobile_change, name="mobile_change"),
    path("profile/password/", views.password_change, name="password_change"),
    path("profile/email/", views.email_change, name="email_change"),
    path("email/confirm/<int:code_id>/<str:token>/", views.email_confirm, name="email_confirm"),
    path("profile/identity/", views.identity_change, name="identity_change"),
    path("profile/personal-data/", views.personal_data_download, name="personal_data"),
    path("profile/close/", views.account_close, name="close"),
    path("closed/", views.account_closed, name="closed"),
    path("password/reset/", views.password_reset, name="password_reset"),
    path("restore/", views.account_restore, name="restore"),
    path("2fa/", views.second_factor_verify, name="second_factor"),
    path("2fa/setup/", views.second_factor_setup, name="second_factor_setup"),
    path("2fa/recovery-codes/", views.recovery_codes, name="recovery_codes"),
]
