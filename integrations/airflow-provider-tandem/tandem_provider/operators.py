"""Operators that run a tandem job through `tandem serve` and wait for it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Sequence

from tandem_provider._compat import AirflowException, BaseOperator
from tandem_provider.hooks import JOBS, TandemHook, seconds


class TandemJobOperator(BaseOperator):
    """Triggers the job `job` (set by the subclass) of `site` on the daemon of connection
    `tandem_conn_id` and, with `wait` (the default), polls it every `poll_interval` seconds
    until it ends.

    Returns (XCom `return_value`) the run as the daemon reports it (`id`, `state`, `backup`: the
    backup taken or now held, `duration_s`, `bytes`, `summary`, ...); without `wait`, the run
    as just started (`state` running). If the job is already running, the task waits for that
    run instead of starting another.

    Fails the task (AirflowException) when the run failed or was aborted (the message carries
    the job's `error`), when the daemon refuses the trigger (the HTTP status and the daemon's
    reason) or when the run has not ended after `timeout` (seconds or timedelta; None: no
    limit). Killing the task does not stop the job in the daemon.
    """

    job: ClassVar[str] = ""
    template_fields: Sequence[str] = ("site", "tandem_conn_id")
    ui_color = "#d6eaf8"

    def __init__(
        self,
        *,
        site: str,
        tandem_conn_id: str = TandemHook.default_conn_name,
        wait: bool = True,
        poll_interval: timedelta | float = 5.0,
        timeout: timedelta | float | None = None,
        request_timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if self.job not in JOBS:
            raise TypeError(f"{type(self).__name__}: use TandemBackupOperator, TandemRefreshOperator or TandemDrillOperator")
        self.site = site
        self.tandem_conn_id = tandem_conn_id
        self.wait = wait
        self.poll_interval = seconds(poll_interval)
        self.tandem_timeout = None if timeout is None else seconds(timeout)
        self.request_timeout = request_timeout

    def execute(self, context: Any) -> dict[str, Any]:
        hook = TandemHook(self.tandem_conn_id, timeout=self.request_timeout)
        job_id = hook.trigger(self.site, self.job)
        if not self.wait:
            return hook.get_job(job_id)
        run = hook.wait_for_job(job_id, self.poll_interval, self.tandem_timeout)
        state = run.get("state")
        if state != "succeeded":
            raise AirflowException(f"tandem {self.job} of {self.site} {state} (job {job_id}): {run.get('error') or 'no error text'}")
        self.log.info(
            "tandem: %s of %s succeeded (job %s) in %.1f s: backup %s%s",
            self.job,
            self.site,
            job_id,
            run.get("duration_s") or 0.0,
            run.get("backup"),
            f"; {run['summary']}" if run.get("summary") else "",
        )
        return run


class TandemBackupOperator(TandemJobOperator):
    """Backs `site` up into the daemon's repository (`POST /api/v1/sites/{site}/backup`); the
    returned run's `backup` is the new backup's id. See TandemJobOperator."""

    job = "backup"


class TandemRefreshOperator(TandemJobOperator):
    """Restores the newest backup of the standby `site`'s source into it (`POST
    /api/v1/sites/{site}/refresh`); the returned run's `backup` is the backup the standby now
    holds (a refresh with nothing newer succeeds with a `skipped: ...` summary). See
    TandemJobOperator."""

    job = "refresh"


class TandemDrillOperator(TandemJobOperator):
    """Drills `site` (`POST /api/v1/sites/{site}/drill`, as `tandem drill SITE`): the backup a
    refresh would restore, rebuilt in the site's default scratch database, checked and dropped.
    The returned run's `summary` carries the measured RPO and RTO (the full report is in the
    repository: `tandem drills show SITE`); a failed drill fails the task. See
    TandemJobOperator."""

    job = "drill"
