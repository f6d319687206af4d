"""`TandemHook`: the HTTP API of a `tandem serve` daemon."""

from __future__ import annotations

import time
from datetime import timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from tandem_provider._compat import AirflowException, BaseHook

JOBS = ("backup", "refresh", "drill")
"""The jobs a site can run (`refresh` only on a standby: a site with a `source`)."""

FINAL_STATES = ("succeeded", "failed", "aborted")
"""States of a run that has ended (the other one is `running`)."""


class TandemError(AirflowException):
    """The daemon did not answer as expected.

    `status` is the HTTP status (None when there was no answer: connection refused, timeout,
    not JSON), `error` the daemon's `error` field when it sent one. The message names both and
    never contains the token.
    """

    def __init__(self, message: str, status: int | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


class UnknownSiteError(TandemError):
    """The daemon's configuration has no site of that name."""


def seconds(value: timedelta | float) -> float:
    """A duration given as a timedelta or as seconds, in seconds. Raises ValueError if negative."""
    s = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if s < 0:
        raise ValueError(f"a duration must not be negative, got {value!r}")
    return s


class TandemHook(BaseHook):
    """Client of one `tandem serve` daemon, configured by an Airflow connection of type `tandem`:

    - host, port (default 9187) and schema (`http`, the default, or `https`) locate the daemon;
      a host written as a URL (`https://dr.example:9187`) works too;
    - password: the bearer token (`[serve] token-file` or `token-env` of tandem.toml), needed
      only to trigger jobs; it never appears in a message or a log line;
    - extra `{"verify": false | "/path/ca.pem"}`: TLS verification for https (default on).

    Every request has a timeout (`timeout` seconds, for connecting and for each read). Any
    unexpected answer raises `TandemError` (an AirflowException) naming the request, the HTTP
    status and the daemon's `error` text.
    """

    conn_name_attr = "tandem_conn_id"
    default_conn_name = "tandem_default"
    conn_type = "tandem"
    hook_name = "tandem"

    DEFAULT_PORT = 9187

    def __init__(self, tandem_conn_id: str = default_conn_name, timeout: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tandem_conn_id = tandem_conn_id
        self.timeout = timeout
        self._session: requests.Session | None = None
        self._base_url = ""
        self._token: str | None = None
        self._verify: bool | str = True

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """How the connection form shows the fields this hook uses."""
        return {
            "hidden_fields": ["login"],
            "relabeling": {"schema": "Scheme (http or https)", "password": "Token"},
            "placeholders": {"host": "tandem.example.com", "port": str(cls.DEFAULT_PORT), "schema": "http", "extra": '{"verify": true}'},
        }

    def get_conn(self) -> requests.Session:
        """The HTTP session, set up from the connection on first use."""
        if self._session is not None:
            return self._session
        conn = self.get_connection(self.tandem_conn_id)
        host = (conn.host or "").strip()
        scheme = (conn.schema or "http").strip().lower()
        port = conn.port
        if "://" in host:
            u = urlsplit(host)
            scheme, host, port = u.scheme.lower(), u.hostname or "", u.port or port
        if not host:
            raise TandemError(f"connection {self.tandem_conn_id!r} has no host: set it to the address of `tandem serve`")
        if scheme not in ("http", "https"):
            raise TandemError(f"connection {self.tandem_conn_id!r}: schema must be http or https, got {scheme!r}")
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        self._base_url = f"{scheme}://{host}:{port or self.DEFAULT_PORT}"
        self._token = (conn.password or "").strip() or None
        verify = (conn.extra_dejson or {}).get("verify", True)
        if isinstance(verify, str) and verify.strip().lower() in ("true", "false"):
            verify = verify.strip().lower() == "true"
        self._verify = verify
        session = requests.Session()
        session.headers["Accept"] = "application/json"
        self._session = session
        return session

    @property
    def base_url(self) -> str:
        """`scheme://host:port` of the daemon."""
        self.get_conn()
        return self._base_url

    def _request(self, method: str, path: str, auth: bool = False) -> tuple[int, dict[str, Any]]:
        """One request; returns the status and the JSON object of the answer (empty if none).
        Raises TandemError when there is no answer or it is not JSON."""
        session = self.get_conn()
        headers = {}
        if auth:
            if not self._token:
                raise TandemError(
                    f"connection {self.tandem_conn_id!r} has no password: set it to the daemon's token "
                    "(tandem.toml [serve] token-file or token-env)"
                )
            headers["Authorization"] = f"Bearer {self._token}"
        where = f"{method} {self._base_url}{path}"
        try:
            r = session.request(method, self._base_url + path, headers=headers, timeout=self.timeout, verify=self._verify)
        except requests.RequestException as e:
            raise TandemError(self._redact(f"tandem: {where}: no answer: {e}")) from None
        try:
            body = r.json() if r.content else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TandemError(self._redact(f"tandem: {where} answered HTTP {r.status_code} {r.reason}, not a JSON object: {r.text[:200]!r}"), r.status_code)
        return r.status_code, body

    def _fail(self, method: str, path: str, status: int, body: dict[str, Any], cls: type[TandemError] = TandemError) -> TandemError:
        error = body.get("error")
        text = error if isinstance(error, str) else str(body)[:200]
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        return cls(self._redact(f"tandem: {method} {self._base_url}{path} answered HTTP {status} {reason}: {text}"), status, error if isinstance(error, str) else None)

    def _redact(self, message: str) -> str:
        return message.replace(self._token, "***") if self._token else message

    def trigger(self, site: str, job: str) -> str:
        """Starts `job` (`backup`, `refresh` or `drill`) of `site` and returns the run's id. When that job
        is already running (HTTP 409), returns the running job's id instead (and logs it): the
        caller then waits for that run. Raises TandemError on any other answer (401: wrong token,
        403: the daemon has no token configured, 404: unknown site or job, 503: the daemon does
        not hold the lease)."""
        if job not in JOBS:
            raise ValueError(f"job must be one of {JOBS}, got {job!r}")
        path = f"/api/v1/sites/{quote(site, safe='')}/{job}"
        status, body = self._request("POST", path, auth=True)
        job_id = body.get("job")
        if status == 202 and isinstance(job_id, str):
            self.log.info("tandem: %s of %s started as %s", job, site, job_id)
            return job_id
        if status == 409 and isinstance(job_id, str):
            self.log.info("tandem: %s of %s is already running as %s: attaching to that run", job, site, job_id)
            return job_id
        raise self._fail("POST", path, status, body)

    def get_job(self, job_id: str) -> dict[str, Any]:
        """The run `job_id` as the daemon reports it: id, site, job, trigger, daemon, state
        (running, succeeded, failed, aborted), started, finished, duration_s, bytes, backup,
        snapshot_at, summary, error (absent fields are not set yet). Raises TandemError (404:
        the daemon does not know the run; it keeps the latest runs since it started)."""
        path = f"/api/v1/jobs/{quote(job_id, safe='')}"
        status, body = self._request("GET", path)
        if status != 200:
            raise self._fail("GET", path, status, body)
        return body

    def wait_for_job(self, job_id: str, poll_interval: float = 5.0, timeout: timedelta | float | None = None) -> dict[str, Any]:
        """Polls the run until it has ended and returns it (its `state` is one of FINAL_STATES;
        a failed run is returned, not raised). An unreachable daemon or a 5xx answer is retried
        until `timeout` (seconds or timedelta; None: no limit); after it, TandemError (the run
        goes on in the daemon)."""
        limit = None if timeout is None else seconds(timeout)
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            try:
                run = self.get_job(job_id)
                if run.get("state") in FINAL_STATES:
                    return run
            except TandemError as e:
                if e.status is not None and e.status < 500:
                    raise
                self.log.warning("tandem: polling %s: %s (retrying)", job_id, e)
            if deadline is not None and time.monotonic() + poll_interval > deadline:
                raise TandemError(f"tandem: job {job_id} has not ended within {limit:g} s (it goes on in the daemon)")
            time.sleep(poll_interval)

    def status(self) -> dict[str, Any]:
        """`GET /api/status`: the lease, the sites (name, role, staleness_s, health, jobs...),
        the recent errors."""
        status, body = self._request("GET", "/api/status")
        if status != 200:
            raise self._fail("GET", "/api/status", status, body)
        return body

    def site_status(self, site: str) -> dict[str, Any]:
        """The entry of `site` in the status. Raises UnknownSiteError if the daemon has no such site."""
        sites = self.status().get("sites") or []
        for s in sites:
            if s.get("name") == site:
                return s
        names = ", ".join(str(s.get("name")) for s in sites) or "none"
        raise UnknownSiteError(f"tandem: the daemon at {self._base_url} has no site {site!r} (configured: {names})")

    def staleness(self, site: str) -> float | None:
        """Seconds the standby `site` is behind its source (now minus the snapshot time of the
        backup it holds): the RPO if the source died now. None when it has not been refreshed
        yet, or when `site` is not a standby. Raises UnknownSiteError for an unknown site."""
        value = self.site_status(site).get("staleness_s")
        return None if value is None else float(value)
