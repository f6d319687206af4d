"""`TandemStalenessSensor`: wait until a standby is recent enough."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Sequence

from tandem_provider._compat import AirflowFailException, BaseSensorOperator
from tandem_provider.hooks import TandemHook, UnknownSiteError, seconds


class TandemStalenessSensor(BaseSensorOperator):
    """Succeeds when the standby `site` is at most `max_staleness` (timedelta or seconds)
    behind its source, as `GET /api/status` reports it (`staleness_s`: now minus the snapshot
    time of the backup the standby holds). A standby not refreshed yet (no staleness) keeps the
    sensor waiting.

    Fails at once, without retries (AirflowFailException), when the daemon has no site `site`
    or the site is not a standby (no `source`: it never has a staleness). Other errors (the
    daemon unreachable) fail the poke like any task error. The usual sensor arguments apply
    (`poke_interval`, `timeout`, `mode`).
    """

    template_fields: Sequence[str] = ("site", "tandem_conn_id")
    ui_color = "#d5f5e3"

    def __init__(
        self,
        *,
        site: str,
        max_staleness: timedelta | float,
        tandem_conn_id: str = TandemHook.default_conn_name,
        request_timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.site = site
        self.max_staleness = seconds(max_staleness)
        self.tandem_conn_id = tandem_conn_id
        self.request_timeout = request_timeout

    def poke(self, context: Any) -> bool:
        hook = TandemHook(self.tandem_conn_id, timeout=self.request_timeout)
        try:
            site = hook.site_status(self.site)
        except UnknownSiteError as e:
            raise AirflowFailException(str(e)) from None
        if site.get("role") != "standby":
            raise AirflowFailException(f"tandem: site {self.site!r} is not a standby (role {site.get('role')}): it has no staleness")
        staleness = site.get("staleness_s")
        if staleness is None:
            self.log.info("tandem: standby %s has not been refreshed yet", self.site)
            return False
        self.log.info("tandem: standby %s is %.1f s behind its source (at most %.1f s wanted)", self.site, staleness, self.max_staleness)
        return float(staleness) <= self.max_staleness
