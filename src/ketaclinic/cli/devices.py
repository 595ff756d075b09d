"""CLI: `ketaclinic simulate-devices` drives simulated wearable sensors against a server's ingestion API."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from ketaclinic.cli._common import emit_json, fail

INGEST_PATH = "/api/v1/monitoring/ingest"
WHOAMI_PATH = "/api/v1/monitoring/devices/me"


@dataclass
class _Totals:
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed_batches: int = 0
    undelivered_batches: int = 0
    undelivered_readings: int = 0
    alerts: int = 0
    alert_rules: dict[str, int] = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)

    def as_dict(self, elapsed: float) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "failed_batches": self.failed_batches,
            "undelivered_batches": self.undelivered_batches,
            "undelivered_readings": self.undelivered_readings,
            "alerts": self.alerts,
            "alert_rules": dict(sorted(self.alert_rules.items())),
            "elapsed_s": round(elapsed, 2),
            "readings_per_s": round(self.sent / elapsed, 1) if elapsed > 0 else 0.0,
        }


def _progress_line(t: _Totals, elapsed: float, patients: int) -> str:
    rate = t.sent / elapsed if elapsed > 0 else 0.0
    return (
        f"\r{elapsed:7.1f} s  patients {patients}  sent {t.sent}  stored {t.stored}  dup {t.duplicates}  "
        f"rejected {t.rejected}  alerts {t.alerts}  {rate:,.0f} readings/s  failed batches {t.failed_batches}"
    )


def _run_local(
    patients: int, rate: float, duration: float, seed: int, offset_min: float, quiet: bool
) -> dict[str, Any]:
    """No server: simulate `duration` seconds of sensor time through validation and the alert engine."""
    from datetime import UTC, datetime, timedelta

    from ketaclinic.core.monitoring import AlertEngine, EventKind, VitalsSimulator, validate_compact
    from ketaclinic.core.monitoring.protocol import session_ruleset

    rs = session_ruleset()
    engine = AlertEngine(lambda _s: rs)
    now = datetime.now(tz=UTC)
    start = now - timedelta(seconds=duration)
    sims = [
        VitalsSimulator(seed=seed, patient_index=i, start=start, rate_hz=rate, minutes_since_dose=offset_min)
        for i in range(patients)
    ]
    totals = _Totals()
    ticks = max(1, int(duration * rate))
    t0 = time.perf_counter()
    for k in range(ticks):
        for i, sim in enumerate(sims):
            for r in sim.tick():
                totals.sent += 1
                reading = validate_compact(r.compact(device=f"sim-{i}", session=f"sim-session-{i}"), now=now)
                if isinstance(reading, list):
                    totals.rejected += 1
                    continue
                totals.stored += 1
                for e in engine.evaluate(reading):
                    if e.kind is EventKind.FIRED:
                        totals.alerts += 1
                        totals.alert_rules[e.rule_id] = totals.alert_rules.get(e.rule_id, 0) + 1
                        if not quiet:
                            typer.echo(
                                f"\n  {e.time:%H:%M:%S} patient {i}: [{e.severity}] {e.message}", err=True
                            )
        if not quiet and (k % max(1, int(rate * 60)) == 0 or k == ticks - 1):
            typer.echo(_progress_line(totals, time.perf_counter() - t0, patients), nl=False, err=True)
    if not quiet:
        typer.echo("", err=True)
    return totals.as_dict(time.perf_counter() - t0)


async def _drive(
    url: str,
    tokens: list[str],
    rate: float,
    duration: float,
    seed: int,
    offset_min: float,
    quiet: bool,
    *,
    retry_s: float = 30.0,
    transport: Any = None,
) -> dict[str, Any]:
    """One simulated sensor per token: each looks up its attached session, then posts one batch per tick.

    A batch the server does not acknowledge (connection error, HTTP 5xx or 429) is retried with backoff for up
    to `retry_s` seconds (long enough for a server restart), then counted as undelivered, never as sent."""
    from datetime import UTC, datetime

    import httpx

    from ketaclinic.core.monitoring import VitalsSimulator

    totals = _Totals()
    limits = httpx.Limits(
        max_connections=min(64, len(tokens)), max_keepalive_connections=min(64, len(tokens))
    )
    async with httpx.AsyncClient(
        base_url=url.rstrip("/"), timeout=10.0, limits=limits, transport=transport
    ) as client:
        who: list[tuple[str, str]] = []
        for i, token in enumerate(tokens):
            try:
                resp = await client.get(WHOAMI_PATH, headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                fail(f"--url: cannot reach {url}: {exc}")
            if resp.status_code != 200:
                fail(f"--token: token #{i + 1} was refused by the server (HTTP {resp.status_code})")
            body = resp.json()
            if not body.get("session"):
                fail(f"--token: device {body.get('device')} (token #{i + 1}) is not attached to a session")
            who.append((str(body["device"]), str(body["session"])))

        start = datetime.now(tz=UTC)
        sims = [
            VitalsSimulator(
                seed=seed, patient_index=i, start=start, rate_hz=rate, minutes_since_dose=offset_min
            )
            for i in range(len(tokens))
        ]
        # Sequence numbers must keep increasing across runs (the server is idempotent on them): start each
        # run above any earlier one (10 per millisecond of wall time; a run uses far fewer).
        seq_base = int(time.time() * 1000) * 10
        for sim in sims:
            sim.seq = seq_base
        t0 = time.perf_counter()
        period = 1.0 / rate

        async def one(i: int, token: str) -> None:
            device, session = who[i]
            sim = sims[i]
            next_at = t0
            headers = {"Authorization": f"Bearer {token}"}
            while time.perf_counter() - t0 < duration:
                batch = [r.compact(device=device, session=session) for r in sim.tick()]
                payload = {"readings": batch}
                # Retry (the server is idempotent on device, metric and seq) until the deadline.
                deadline = time.perf_counter() + retry_s
                attempt = 0
                resp = None
                while True:
                    try:
                        resp = await client.post(INGEST_PATH, json=payload, headers=headers)
                        if resp.status_code < 500 and resp.status_code != 429:
                            break
                    except httpx.HTTPError:
                        resp = None
                    wait = min(2.0, 0.1 * 2**attempt)
                    if resp is not None and resp.status_code == 429:
                        retry_after = resp.headers.get("Retry-After", "0")
                        if retry_after.isdigit():
                            wait = max(wait, float(retry_after))
                    attempt += 1
                    if time.perf_counter() + wait > deadline:
                        resp = None
                        break
                    await asyncio.sleep(wait)
                if resp is None:
                    totals.undelivered_batches += 1
                    totals.undelivered_readings += len(batch)
                    if len(totals.first_errors) < 5:
                        totals.first_errors.append(f"batch not delivered after {retry_s:g} s of retries")
                else:
                    totals.sent += len(batch)
                if resp is None:
                    pass
                elif resp.status_code != 200:
                    totals.failed_batches += 1
                    if len(totals.first_errors) < 5:
                        totals.first_errors.append(f"HTTP {resp.status_code}: {resp.text[:200]}")
                else:
                    body = resp.json()
                    totals.stored += int(body.get("stored", 0))
                    totals.duplicates += int(body.get("duplicates", 0))
                    totals.rejected += len(body.get("rejected", []))
                    for a in body.get("alerts", []):
                        totals.alerts += 1
                        rid = str(a.get("rule_id"))
                        totals.alert_rules[rid] = totals.alert_rules.get(rid, 0) + 1
                    if body.get("rejected") and len(totals.first_errors) < 5:
                        totals.first_errors.append(str(body["rejected"][0]))
                next_at += period
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)

        async def progress() -> None:
            while True:
                await asyncio.sleep(1.0)
                typer.echo(_progress_line(totals, time.perf_counter() - t0, len(tokens)), nl=False, err=True)

        ticker = None if quiet else asyncio.create_task(progress())
        try:
            await asyncio.gather(*(one(i, tok) for i, tok in enumerate(tokens)))
        finally:
            if ticker is not None:
                ticker.cancel()
                typer.echo(_progress_line(totals, time.perf_counter() - t0, len(tokens)), err=True)
    out = totals.as_dict(time.perf_counter() - t0)
    out["errors"] = totals.first_errors
    return out


def register(app: typer.Typer) -> None:
    """Add `simulate-devices`."""

    @app.command("simulate-devices")
    def simulate_devices(
        patients: Annotated[
            int, typer.Option("--patients", help="Number of simulated patients (one sensor each).")
        ] = 1,
        rate: Annotated[float, typer.Option("--rate", help="Readings per second per sensor (Hz).")] = 1.0,
        url: Annotated[
            str | None, typer.Option("--url", help="Server base URL; without it the simulation runs locally.")
        ] = None,
        token: Annotated[
            list[str] | None, typer.Option("--token", help="Device token (repeat, one per patient).")
        ] = None,
        tokens_file: Annotated[
            Path | None, typer.Option("--tokens-file", help="File with one device token per line.")
        ] = None,
        duration: Annotated[float, typer.Option("--duration", help="Seconds to run.")] = 60.0,
        seed: Annotated[int, typer.Option("--seed", help="Simulator seed (same seed, same vitals).")] = 1,
        minutes_since_dose: Annotated[
            float,
            typer.Option("--minutes-since-dose", help="Start this many minutes after dosing (40 = BP peak)."),
        ] = 0.0,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the summary as one JSON object.")
        ] = False,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress display.")] = False,
        retry_seconds: Annotated[
            float,
            typer.Option(
                "--retry-seconds", help="Keep retrying an unacknowledged batch this long (server restarts)."
            ),
        ] = 30.0,
    ) -> None:
        """Simulate wearable sensors (BP rise peaking ~40 min after dosing, desaturations) for demos and load."""
        if patients < 1:
            fail("--patients: must be at least 1")
        if not 0 < rate <= 50:
            fail("--rate: must be greater than 0 and at most 50 Hz")
        if not duration > 0:
            fail("--duration: must be greater than 0 seconds")
        if minutes_since_dose < 0:
            fail("--minutes-since-dose: must not be negative")
        if not 0 <= retry_seconds <= 3600:
            fail("--retry-seconds: must be between 0 and 3600")
        tokens = list(token or [])
        if tokens_file is not None:
            try:
                tokens += [ln.strip() for ln in tokens_file.read_text("utf-8").splitlines() if ln.strip()]
            except OSError as exc:
                fail(f"--tokens-file: cannot read {tokens_file}: {exc.strerror}")
        if url is None:
            if tokens:
                fail("--token: only meaningful with --url")
            summary = _run_local(patients, rate, duration, seed, minutes_since_dose, quiet or as_json)
            summary["mode"] = "local"
        else:
            if not url.startswith(("http://", "https://")):
                fail("--url: must start with http:// or https://")
            if len(tokens) < patients:
                fail(f"--token: {patients} patients need {patients} device tokens, got {len(tokens)}")
            summary = asyncio.run(
                _drive(
                    url,
                    tokens[:patients],
                    rate,
                    duration,
                    seed,
                    minutes_since_dose,
                    quiet or as_json,
                    retry_s=retry_seconds,
                )
            )
            summary["mode"] = "server"
        if as_json:
            emit_json(summary)
        else:
            typer.echo(
                f"sent {summary['sent']} readings, stored {summary['stored']}, duplicates {summary['duplicates']}, "
                f"rejected {summary['rejected']}, alerts {summary['alerts']} in {summary['elapsed_s']} s"
                + (
                    f"; NOT DELIVERED: {summary['undelivered_batches']} batches ({summary['undelivered_readings']} readings)"
                    if summary.get("undelivered_batches")
                    else ""
                )
            )
