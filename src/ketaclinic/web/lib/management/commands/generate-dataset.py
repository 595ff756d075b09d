"""`ketaclinic manage generate-dataset --patients N --observations M --seed S`: a synthetic clinic at scale."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ketaclinic.web.lib.dataset import DatasetError, generate_dataset, manifest_json


class Command(BaseCommand):
    help = (
        "Generate a synthetic clinic for benchmarks: staff, patients, a year of sessions, assessment scores and "
        "sensor readings (COPY on PostgreSQL). Writes a manifest (staff password, device tokens) for the benches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, required=True, help="Number of patients.")
        parser.add_argument("--observations", type=int, required=True,
                            help="Scores plus sensor readings to create (56 %% scores, 44 %% readings).")  # fmt: skip
        parser.add_argument(
            "--seed", type=int, default=1, help="Random seed (default 1); also names the clinic."
        )
        parser.add_argument("--staff", type=int, default=20, help="Staff users to create (default 20).")
        parser.add_argument("--heavy-scores", type=int, default=1000,
                            help="Scores of the one heavy patient (default 1000).")  # fmt: skip
        parser.add_argument("--live-sessions", type=int, default=20,
                            help="Sessions in progress today, each with a sensor attached (default 20).")  # fmt: skip
        parser.add_argument("--clinic", default=None, help="Clinic slug (default bench-<seed>).")
        parser.add_argument("--manifest", default=None,
                            help="Where to write the manifest JSON (default: print it with --json).")  # fmt: skip
        parser.add_argument("--json", action="store_true", help="Print exactly one JSON object on stdout.")

    def handle(self, *args: Any, **o: Any) -> None:
        def progress(msg: str) -> None:
            if not o["json"]:
                self.stderr.write(msg)

        try:
            summary = generate_dataset(
                patients=o["patients"], observations=o["observations"], seed=o["seed"], staff=o["staff"],
                heavy_scores=o["heavy_scores"], live_sessions=o["live_sessions"], clinic_slug=o["clinic"],
                progress=progress,
            )  # fmt: skip
        except DatasetError as exc:
            self.stderr.write(f"error: {exc}")
            sys.exit(2)
        text = manifest_json(summary)
        if o["manifest"]:
            path = Path(o["manifest"])
            path.write_text(text, encoding="utf-8")
            path.chmod(0o600)
        if o["json"]:
            self.stdout.write(json.dumps({k: v for k, v in summary.as_dict().items() if k != "live_sessions"}
                                         | {"manifest": o["manifest"]}))  # fmt: skip
        else:
            rows = summary.scores + summary.sensor_readings
            self.stdout.write(
                f"Created clinic {summary.clinic_slug}: {summary.patients} patients, {summary.sessions} sessions, "
                f"{summary.scores} scores, {summary.sensor_readings} sensor readings in {summary.seconds:.1f} s "
                f"({rows / max(summary.seconds, 1e-9):,.0f} observation rows/s)."
            )
