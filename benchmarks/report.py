"""The results tables of docs/benchmarks.md, from the records ``benchmarks/benchmark.py`` prints.

``update_docs`` rewrites what lies between the BEGIN/END markers (one record per command; the text around them is
kept): the runs (machine, CPU flags, other processes' share of the CPU), training and generation per precision side
by side (bf16 against the same run's fp32), the targets, each record's per-layer table
(:mod:`benchmarks.layers`) and the raw JSON. Records written before a field existed show "–" for it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

try:
    from layers import render_layers
except ImportError:  # imported as benchmarks.report
    from benchmarks.layers import render_layers

BEGIN = "<!-- BEGIN benchmark-results: rewritten by `benchmarks/benchmark.py --update-docs`; edit outside -->"
END = "<!-- END benchmark-results -->"
DOC_TEMPLATE = f"""# Benchmarks

CPU throughput and memory of the paper's model, measured by `benchmarks/benchmark.py`.

{BEGIN}
{END}
"""
#: how each target reads in the targets table
TARGET_NAMES = {
    "training_achieved_over_matmul": "training achieved/matmul (fp32)",
    "training_bf16_speedup": "training bf16 speed-up (turn by turn in one process)",
    "generation_attributes_videos_per_s": "generation 64×16, attributes only (videos/s, best precision)",
    "generation_first_frame_videos_per_s": "generation 64×16, first frame given (videos/s, best precision)",
    "generation_batch1_videos_per_s": "generation batch 1 × 10 frames (videos/s, best precision)",
    "training_peak_rss_gb": "training peak RSS (GB)",
}
PAIRED_NAMES = {"training_iteration": "training iteration (32 × 10 frames)",
                "generate_attributes": "generate 64 × 16 frames (attributes only)",
                "generate_batch1": "generate 1 × 10 frames"}


def _fmt(value, digits=1, suffix=""):
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def precisions(record: dict) -> list[tuple[str, dict, dict]]:
    """(precision, training, generation) of a record: fp32 (its ``training``/``generation``), then bf16 if run."""
    rows = [("fp32", record["training"], record["generation"])]
    if record.get("bf16"):
        rows.append(("bf16", record["bf16"]["training"], record["bf16"]["generation"]))
    return rows


def _runs(records: list[dict]) -> list[str]:
    lines = ["### Runs", "",
             "| Variant | Command | Date | CPU (usable cores) | CPU flags | torch | threads | other processes' CPU share |",
             "|---|---|---|---|---|---|---|---:|"]
    for r in records:
        m, share = r["machine"], r.get("background", {}).get("other_cpu_share")
        flags = " ".join(m["cpu_flags"]) if m.get("cpu_flags") is not None else "–"
        lines.append(f"| {r['variant']} | `{r['command']}` | {r['date']} | {m['cpu']} ({m['usable_cpus']}) | {flags} | "
                     f"{r['environment']['torch']} | {r['options']['threads']} | "
                     f"{'–' if share is None else f'{100 * share:.0f}%'} |")
    if any(r["machine"].get("native_bf16") not in (None, True) for r in records):
        lines += ["", "No bf16 rows where the CPU has no native bf16: " + "; ".join(
            f"{r['variant']}: {r['machine']['native_bf16']}" for r in records
            if r["machine"].get("native_bf16") not in (None, True))]
    return lines


def _table(title: str, headers: list[str], rows: list[tuple]) -> list[str]:
    """A Markdown table under ``title``: the first two columns text, the others numbers (right-aligned)."""
    return [title, "", _row(*headers), "|---|---|" + "---:|" * (len(headers) - 2), *(_row(*cells) for cells in rows)]


def _training(records: list[dict]) -> list[str]:
    rows = []
    for r in records:
        base = r["training"]["frames_per_s"]
        rows += [(r["variant"], precision, _fmt(t["frames_per_s"]), _fmt(t["frames_per_s"] / base, 2),
                  _fmt(t["seconds_per_iteration"], 2), _fmt(t["gflop_per_iteration"]), _fmt(t["achieved_gflops"]),
                  _fmt(t["matmul_gflops"]), _fmt(t["achieved_over_matmul"], 3), _fmt(t["peak_rss_mb"], 0),
                  _fmt(t["rss_after_import_mb"], 0), _fmt(t["compile_seconds"])) for precision, t, _ in precisions(r)]
    return _table("### Training (batch 32 × 10 frames, 64×64×3, forward + backward + Adam)",
                  ["Variant", "precision", "frames/s", "× fp32", "s/iteration", "GFLOP/iteration", "achieved GFLOP/s",
                   "matmul GFLOP/s (same precision)", "achieved/matmul", "peak RSS (MB)", "RSS after import (MB)",
                   "compile (s)"], rows)


def _generation(records: list[dict]) -> list[str]:
    rows = []
    for r in records:
        base = r["generation"]["attributes_videos_per_s"]
        for precision, _, g in precisions(r):
            flops, latency = g.get("attributes_flops_per_call"), g.get("batch1_seconds_per_video")
            rows.append((r["variant"], precision, _fmt(g["attributes_videos_per_s"]), _fmt(g["first_frame_videos_per_s"]),
                         _fmt(g["attributes_videos_per_s"] / base, 2), _fmt(None if latency is None else latency * 1e3),
                         _fmt(None if latency is None else 1 / latency), _fmt(None if flops is None else flops / 1e9),
                         _fmt(g.get("attributes_achieved_gflops")), _fmt(g.get("attributes_gflops_needed_for_target")),
                         _fmt(g.get("matmul_gflops")), _fmt(g["peak_rss_mb"], 0), _fmt(g["compile_seconds"])))
    return _table("### Generation (64 videos × 16 frames, and one video × 10 frames; eval mode, `torch.no_grad`)",
                  ["Variant", "precision", "attributes only (videos/s)", "first frame given (videos/s)",
                   "× fp32 (attributes)", "batch 1 × 10 frames (ms/video)", "batch 1 (videos/s)",
                   "GFLOP/call (attributes)", "achieved GFLOP/s (attributes)", "GFLOP/s needed for 100 videos/s",
                   "matmul GFLOP/s (same precision)", "peak RSS (MB)", "compile (s)"], rows)


def _paired(records: list[dict]) -> list[str]:
    rows = []
    for r in records:
        for name, p in (r.get("bf16_paired") or {}).items():
            rows.append((r["variant"], PAIRED_NAMES.get(name, name), _fmt(p["fp32_seconds"] * 1e3, 0),
                         _fmt(p["bf16_seconds"] * 1e3, 0), _fmt(p["bf16_speedup"], 2), str(len(p["fp32_all"]))))
    if not rows:
        return []
    return ["", *_table("### bf16 against fp32, turn by turn in one process (median; the ratio to trust on a busy "
                        "machine)", ["Variant", "what", "fp32 ms", "bf16 ms", "bf16 speed-up", "calls each"], rows)]


def _targets(records: list[dict]) -> list[str]:
    lines = ["### Targets", "", "| Variant | target | value | goal | met |", "|---|---|---:|---|---|"]
    for r in records:
        for name, t in r["targets"].items():
            lines.append(f"| {r['variant']} | {TARGET_NAMES.get(name, name)} | {_fmt(t['value'], 3)} | "
                         f"{t['op']} {t['target']:g} | {_mark(r['meets_targets'][name])} |")
    return lines


def _layers(records: list[dict]) -> list[str]:
    lines = []
    for r in records:
        if r.get("layers"):
            lines += ["", f"### Per layer: {r['variant']} (each codec layer alone, forward + backward, "
                          f"{r['training']['batch'] * r['training']['frames']} frames)", "", *render_layers(r["layers"])]
    return lines


def render_results(records: list[dict]) -> str:
    lines = [BEGIN, "", *_runs(records), "", *_training(records), "", *_generation(records), *_paired(records), "",
             *_targets(records), *_layers(records)]
    lines += ["", "<details><summary>Raw results (JSON, one record per command)</summary>", "", "```json",
              json.dumps(records, indent=1), "```", "", "</details>", "", END]
    return "\n".join(lines)


def read_records(text: str) -> list[dict]:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return []
    match = re.search(r"```json\n(.*?)\n```", text[start:end], re.S)
    if not match:
        return []
    try:
        records = json.loads(match.group(1))
    except json.JSONDecodeError:
        return []
    return records if isinstance(records, list) else []


def command_key(command: str) -> str:
    """A command without the options that do not change what is measured (one docs row per key)."""
    words, kept = shlex.split(command), []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("--update-docs",) or word.startswith("--output="):
            pass
        elif word == "--output":
            skip = True
        else:
            kept.append(word)
    return shlex.join(kept)


def update_docs(path: Path, record: dict) -> None:
    text = path.read_text() if path.exists() else DOC_TEMPLATE
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    key = command_key(record["command"])
    records = [r for r in read_records(text) if command_key(r["command"]) != key]
    records.append(record)
    # the default configuration first, then the others in the order they were first recorded
    records.sort(key=lambda r: 0 if r["variant"] == "channels_last" else 1)
    start, end = text.find(BEGIN), text.find(END) + len(END)
    text = text[:start] + render_results(records) + text[end:]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
