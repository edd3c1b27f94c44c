"""The evaluation report: a Markdown table like Tables 1 and 2 plus a JSON file, both written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from ...io.atomic import atomic_write_text
from .classifier import NEAR_CHANCE
from .protocol import EvalProtocol
from .steering import WEAK, weak_attributes


def adjustment_notes(adjustments: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """One line per model whose optimiser settings changed on resume (a checkpoint's ``adjustments``),
    e.g. ``videovae: grad_clip 0.0 → 1000.0 from step 5000``."""
    return [f"{name}: " + "; ".join(f"{a['field']} {a['from']} → {a['to']} from step {a['step']}" for a in changes)
            for name, changes in adjustments.items() if changes]


def write_report(out: str | Path, table_name: str, json_name: str, rows: list[tuple[str, Mapping[str, Any]]],
                 protocol: EvalProtocol, changed_on_resume: Sequence[str] = (),
                 classifier_accuracy: Mapping[str, Any] | None = None, fvd_note: str | None = None, **extra: Any) -> str:
    """Write the Markdown table and a JSON report (``classifier_accuracy``, ``extra``, the protocol and the
    rows) into ``out``, each atomically (a temporary file renamed over the old one); returns the table.
    ``changed_on_resume`` (from :func:`adjustment_notes`) goes under the protocol line as ``Changed on resume: …``;
    ``fvd_note`` (why the FVD column reads n/a) under the table and in the JSON."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows, protocol, classifier_accuracy, fvd_note)
    if changed_on_resume:
        table += "\nChanged on resume: " + " | ".join(changed_on_resume) + "\n"
    report = {**({"classifier_accuracy": dict(classifier_accuracy)} if classifier_accuracy is not None else {}),
              **({"fvd_note": fvd_note} if fvd_note else {}), **extra, "protocol": protocol.to_dict(), "rows": dict(rows)}
    for name, text in ((table_name, table), (json_name, json.dumps(report, indent=2))):
        atomic_write_text(out / name, text)
    return table


def _cell(row: Mapping[str, Any], key: str, digits: int) -> str:
    if key not in row:
        return "–"
    text = f"{row[key]:.{digits}f}"
    return text + f" ± {row[key + '_std']:.{digits}f}" if f"{key}_std" in row else text


#: what the table appends to the name of a row whose model failed a collapse check
COLLAPSED = "⚠ collapsed"


def collapse_warning(row: Mapping[str, Any]) -> str | None:
    """Why a row's model collapsed (its ``health`` warning, or per training seed), or None when it did not."""
    if row.get("collapsed_seeds"):
        return " | ".join(f"training seed {seed}: {warning}" for seed, warning in row["collapsed_seeds"].items())
    return row.get("health", {}).get("health_warning")


def classifier_lines(accuracy: Mapping[str, Any]) -> list[str]:
    """The classifier's accuracy on the real test clips in one line, and one more when it is near chance."""
    def score(value, chance) -> str:
        return ("n/a" if value is None else f"{value:.3f}") + f" (chance {chance:.3f})"

    parts = [f"{name} {score(a['accuracy'], a['chance'])}" for name, a in accuracy["per_attribute"].items()]
    lines = [f"Classifier accuracy on {accuracy['test_clips']} real test clips: joint "
             f"{score(accuracy['joint'], accuracy['chance'])}" + ("; " + ", ".join(parts) if parts else "")]
    if accuracy.get("near_chance"):
        lines.append(f"⚠ The evaluation classifier is near chance ({accuracy['joint']:.3f} < {NEAR_CHANCE:g} × {accuracy['chance']:.3f}): "
                     "Intra-E, Inter-E and I-score say nothing about these videos.")
    return lines


def steering_lines(rows: list[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """The rows' steering numbers (:mod:`.steering`) in one line, and one line naming each attribute that barely
    steers its model."""
    steered = [(name, r["steering"]) for name, r in rows if r.get("steering")]
    if not steered:
        return []
    lines = ["Steering (pixel change when one attribute's value changes, over the change when only the noise "
             "does; about 0: ignored): " + _per_attribute(steered, 2)]
    weak = [(name, weak_attributes(values)) for name, values in steered]
    lines += [f"⚠ {name} barely follows {', '.join(names)} (steering < {WEAK:g}): its clips hardly change when "
              f"{'it changes' if len(names) == 1 else 'they change'}, whatever the entropy metrics say"
              for name, names in weak if names]
    return lines


def commanded_lines(rows: list[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """The rows' commanded-class accuracy (:func:`~.scores.commanded_accuracy`) in one line."""
    scored = [(name, r["commanded"]) for name, r in rows if r.get("commanded")]
    if not scored:
        return []
    return ["Commanded class named by the classifier (the labels each video was generated from; for reconstructions, the "
            "real clips'; compare its accuracy on real clips): " + _per_attribute(scored, 3)]


def _per_attribute(rows: list[tuple[str, Mapping[str, float]]], digits: int) -> str:
    """``row: attribute value, ...`` for each (row name, {attribute: value}), rows separated by `` | ``."""
    return " | ".join(f"{name}: " + ", ".join(f"{a} {v:.{digits}f}" for a, v in values.items()) for name, values in rows)


def markdown_table(rows: list[tuple[str, Mapping[str, Any]]], protocol: EvalProtocol,
                   classifier_accuracy: Mapping[str, Any] | None = None, fvd_note: str | None = None) -> str:
    """Rows: bound and each model; columns as Tables 1 and 2 plus PSNR, SSIM and FVD ("–" where a row has no such
    number; FVD "n/a" in every row when it was not computed, ``fvd_note`` saying why). The Bound's FVD is the
    real-against-real noise floor. A row averaged over training seeds (:func:`mean_over_seeds`) shows mean ± standard deviation;
    a row whose model collapsed is marked :data:`COLLAPSED`, with the reasons under the table, after the
    classifier's accuracy on the real test clips."""
    lines = [
        "| | mode | Intra-E ↓ (N videos) | Inter-E ↑ | I-score ↑ | PSNR ↑ | SSIM ↑ | FVD ↓ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    reasons: dict[str, list[str]] = {}  # warning -> the rows it marks
    for name, r in rows:
        name = f"{name} ({r['seeds']} seeds)" if r.get("seeds", 1) > 1 else name
        warning = collapse_warning(r)
        if warning is not None:
            reasons.setdefault(warning, []).append(name)
            name = f"{name} {COLLAPSED}"
        intra = f"{_cell(r, 'intra_entropy', 2)} ({r['num_videos']})" if "num_videos" in r else "–"
        lines.append(f"| {name} | {r.get('mode', '')} | {intra} | "
                     f"{_cell(r, 'inter_entropy', 3)} | {_cell(r, 'inception_score', 2)} | {_cell(r, 'psnr', 2)} | "
                     f"{_cell(r, 'ssim', 3)} | {'n/a' if protocol.fvd is None else _cell(r, 'fvd', 1)} |")
    notes = classifier_lines(classifier_accuracy) if classifier_accuracy is not None else []
    notes += commanded_lines(rows)
    notes += [f"{COLLAPSED}: {', '.join(names)}: {warning}" for warning, names in reasons.items()]
    notes += steering_lines(rows)
    if protocol.fvd is not None:
        notes.append(f"FVD ({protocol.fvd['features']} of the Kinetics-400 I3D) against the bound's real clips; the "
                     "Bound's FVD is real against real (even against odd halves of its clips): the noise floor.")
    elif fvd_note:
        notes.append(fvd_note)
    for note in notes:
        lines += ["", note]
    lines.append("")
    lines.append("Protocol: " + json.dumps(protocol.to_dict(), sort_keys=True))
    return "\n".join(lines) + "\n"
