from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "web"
    verbose_name = "Pages"

    def ready(self) -> None:
        from django.contrib import admin

        from web.forms import AdminLoginForm

        # The admin's own login page would otherwise be a way around the lock-out, and around two-factor login.
        admin.site.login_form = AdminLoginForm
        admin.site.login_template = "admin/login_2fa.html"  # Django's, with the form's two-factor code field
