from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_login_failed

        user_login_failed.connect(_count_login_failure, dispatch_uid="accounts.metrics.login_failed")


def _count_login_failure(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    """Every wrong password (the API's login, the login page, the admin's: all go through authenticate)."""
    from core.metrics import LOGIN_FAILURES

    LOGIN_FAILURES.labels("password").inc()
