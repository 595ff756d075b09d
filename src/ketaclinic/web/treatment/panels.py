"""Run-sheet panels other apps contribute (the pain programme's opioid load), without treatment importing them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.utils.safestring import SafeString

if TYPE_CHECKING:
    from ketaclinic.web.accounts.requests import SignedInRequest
    from ketaclinic.web.treatment.models import DosingSession

#: Each panel takes (request, session) and returns rendered HTML, or None when it has nothing to show.
RunSheetPanel = Callable[["SignedInRequest", "DosingSession"], SafeString | None]
RUN_SHEET_PANELS: list[RunSheetPanel] = []


def register_run_sheet_panel(panel: RunSheetPanel) -> None:
    if panel not in RUN_SHEET_PANELS:
        RUN_SHEET_PANELS.append(panel)


def run_sheet_panels(request: SignedInRequest, session: DosingSession) -> list[SafeString]:
    out: list[SafeString] = []
    for panel in RUN_SHEET_PANELS:
        html = panel(request, session)
        if html:
            out.append(html)
    return out
