"""The scheduler's record: one row per job and period, which is also how several nodes run each job once."""

from django.db import models


class JobRun(models.Model):
    """A job's run for one period (`slot`: the period's start).

    The row is inserted before the job runs; the unique (job, slot) makes
    the insert the claim, so of several schedulers (one per node) exactly
    one runs a job in each period. `finished_at` stays NULL while it runs
    (or if the process died); `ok` says how it ended. A failed run is
    retried in the next period: the jobs are idempotent, so a retry pays,
    settles or removes only what the failed run did not.
    """

    job = models.CharField(max_length=64)
    slot = models.DateTimeField()
    node = models.CharField(max_length=200, help_text="host:pid of the scheduler that ran it")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-slot", "job"]
        constraints = [models.UniqueConstraint(fields=["job", "slot"], name="jobrun_job_slot")]
        indexes = [models.Index(fields=["job", "-slot"], name="jobrun_job_recent")]

    def __str__(self) -> str:
        return f"{self.job} @ {self.slot:%Y-%m-%d %H:%M}"
