"""CLI: `ketaclinic score INSTRUMENT --answers ...` and `ketaclinic instruments` (docs/cli.md)."""

from __future__ import annotations

from typing import Any

import typer

from ketaclinic.cli._common import emit_json, fail


def _result_json(result: Any) -> dict[str, Any]:
    from ketaclinic.cli._fast import score_json

    return score_json(result)


def register(app: typer.Typer) -> None:
    """Add the `score` and `instruments` commands."""

    @app.command("score")
    def score_cmd(
        instrument: str = typer.Argument(
            ..., help="Instrument id, e.g. phq9 (see `ketaclinic instruments`)."
        ),
        answers: str = typer.Option(..., "--answers", help="Item values in canonical order: A1,A2,..."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        allow_partial: bool = typer.Option(
            False,
            "--allow-partial",
            help="Accept blank answers; the form is then incomplete and not totalled.",
        ),
    ) -> None:
        """Score a rating scale from its item answers."""
        from ketaclinic.core.instruments import (
            AnswerError,
            UnknownInstrumentError,
            load_instrument,
            parse_answer_text,
            score,
        )

        try:
            defn = load_instrument(instrument)
        except UnknownInstrumentError as exc:
            fail(f"INSTRUMENT: {exc}")
        try:
            values = parse_answer_text(defn, answers, allow_blank=allow_partial)
            result = score(defn, values)
        except AnswerError as exc:
            fail(f"{defn.id} {exc.field}: {exc.reason}")
        if as_json:
            emit_json(_result_json(result))
            return
        lines = [f"{defn.short_title} (v{defn.version})"]
        if not result.complete:
            lines.append(f"INCOMPLETE: unanswered item(s) {', '.join(result.missing_items)}; not scored")
        if result.total is not None:
            lines.append(f"total: {result.total} (range {defn.total_min}-{defn.total_max})")
        if result.severity is not None:
            lines.append(f"severity: {result.severity} ({result.severity_label})")
        for part in (*result.subscales, *result.domains):
            lines.append(f"  {part.code}: {part.value if part.value is not None else '-'}")
        for f in result.flags:
            lines.append(f"FLAG {f.code}: {f.message} [{f.source}]")
        if not result.flags:
            lines.append("flags: none")
        typer.echo("\n".join(lines))

    @app.command("instruments")
    def instruments_cmd(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
        """List the rating scales with items, ranges, bands, flags, LOINC codes and licence."""
        from ketaclinic.core.instruments import all_instruments

        insts = all_instruments()
        if as_json:
            emit_json(
                {
                    "instruments": [
                        {
                            "id": d.id,
                            "version": d.version,
                            "title": d.title,
                            "items": len(d.items),
                            "item_ranges": [[i.min_value, i.max_value] for i in d.items],
                            "total_range": [d.total_min, d.total_max] if d.has_total else None,
                            "bands": [{"code": b.code, "low": b.low, "high": b.high} for b in d.bands]
                            or None,
                            "risk_levels": list(d.risk_order) or None,
                            "flags": [f.code for f in d.flags],
                            "loinc_panel": d.loinc_panel.code if d.loinc_panel else None,
                            "loinc_total": d.loinc_total.code if d.loinc_total else None,
                            "wording_included": d.wording_included,
                            "remote_allowed": d.remote_allowed,
                            "licence": d.licence,
                            "source": d.source,
                        }
                        for d in insts
                    ]
                }
            )
            return
        for d in insts:
            rng = f"{d.total_min}-{d.total_max}" if d.has_total else "no total"
            typer.echo(f"{d.id:<15} v{d.version}  {len(d.items):>2} items  {rng:<9} {d.title}")
