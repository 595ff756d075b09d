"""`ketaclinic manage monitoring_escalate [--once] [--every S]`: escalate unacknowledged sensor alerts."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ketaclinic.web.monitoring.actions import do_escalate_overdue_alerts


class Command(BaseCommand):
    help = "Escalate monitoring alerts not acknowledged within their severity's window (loops unless --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Check once and exit.")
        parser.add_argument("--every", type=float, default=5.0, help="Seconds between checks (default 5).")

    def handle(self, *args: Any, once: bool = False, every: float = 5.0, **options: Any) -> None:
        if every <= 0:
            self.stderr.write("error: --every: must be greater than 0")
            raise SystemExit(2)
        while True:
            for a in do_escalate_overdue_alerts():
                self.stdout.write(
                    f"escalated alert {a.pk} ({a.rule_id}, {a.severity}) of session {a.session_id}"
                )
            if once:
                return
            time.sleep(every)
