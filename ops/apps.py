from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running the site as a service: the scheduled jobs (and, as they come, metrics and deployment helpers)."""

    name = "ops"
    default_auto_field = "django.db.models.BigAutoField"
