"""The static review page of a run: one self-contained HTML file (inline SVG plots, no scripts or
styles from elsewhere) beside the soundtracks, linking the muxed videos by relative path, so it opens
the same from a local disk or a copy of the bucket. Per ok video: a player, a plot of the visual beats
against the music's onsets, the scores, the mix and the published loudness; sortable by any score,
worst first in one click. A video that kept its own sound has no player. Error
rows are listed with their reasons."""
from __future__ import annotations

import html
import json
import math

from vidmusician.publish.mix import KEEP
from vidmusician.soundtrack.layout import Layout
from vidmusician.soundtrack.table import MEAN_SCORES, STATUS_OK

PLOT_W, PLOT_H = 480, 64
SHOWN_SCORES = MEAN_SCORES + ("tempo_bpm", "visual_beats", "flow_beats", "music_onsets")

_STYLE = """
body{font-family:sans-serif;margin:1.5em;background:#fafafa}
.video{display:flex;gap:1.2em;align-items:flex-start;background:#fff;border:1px solid #ddd;padding:.8em;margin:.6em 0}
video{width:320px;background:#000}
table.s td{padding:0 .6em 0 0;font-size:90%}
svg{border:1px solid #eee;background:#fff}
.vis{stroke:#1f77b4;stroke-width:2}.flow{stroke:#2ca02c;stroke-width:2}.mus{stroke:#ff7f0e;stroke-width:2}
.legend span{margin-right:1em}
"""

_SCRIPT = """
function sortBy(key, ascending) {
  const list = document.getElementById('videos');
  const items = Array.from(list.children);
  const value = el => { const v = parseFloat(el.dataset[key]); return isNaN(v) ? null : v; };
  items.sort((a, b) => {
    const x = value(a), y = value(b);
    if (x === null) return 1; if (y === null) return -1;   // missing scores last either way
    return ascending ? x - y : y - x;
  });
  items.forEach(el => list.appendChild(el));
  document.getElementById('order').textContent = NAMES[key] + (ascending ? ' ascending' : ' descending');
}
document.getElementById('worst').addEventListener('click', () => sortBy(WORST_KEY, true));
document.getElementById('best').addEventListener('click', () => sortBy(WORST_KEY, false));
document.getElementById('key').addEventListener('change', e => sortBy(e.target.value, true));
"""


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _ticks(times, duration: float, y0: float, y1: float, css: str) -> str:
    return "".join(f'<line class="{css}" x1="{x:.1f}" x2="{x:.1f}" y1="{y0}" y2="{y1}"/>'
                   for x in (t / max(duration, 1e-9) * PLOT_W for t in times or []))


def beat_plot(row: dict) -> str:
    """Visual beats (rhythm curve: blue, optical flow: green) above, music onsets (orange) below."""
    d, third = row["duration_s"] or 0.0, PLOT_H / 3
    return (f'<svg class="plot" width="{PLOT_W}" height="{PLOT_H}" viewBox="0 0 {PLOT_W} {PLOT_H}">'
            + _ticks(row.get("visual_beat_times"), d, 0, third, "vis")
            + _ticks(row.get("flow_beat_times"), d, third, 2 * third, "flow")
            + _ticks(row.get("music_onset_times"), d, 2 * third, PLOT_H, "mus") + "</svg>")


def _candidates(row: dict) -> str:
    """Best of N: every candidate's selection score and issues, the kept one in bold."""
    parts = []
    for k, (score, issue) in enumerate(zip(row["candidate_scores"], row["candidate_issues"])):
        text = f"#{k} {_fmt(score)}" + (f" ({html.escape(issue)})" if issue else "")
        parts.append(f"<b class='chosen'>{text}</b>" if k == row["chosen_candidate"] else text)
    return f"best of {row['candidates']}: " + ", ".join(parts)


def _card(row: dict, layout: Layout) -> str:
    data = " ".join(f'data-{k.replace("_", "")}="{_fmt(row.get(k))}"' for k in SHOWN_SCORES)
    scores = "".join(f"<tr><td>{k}</td><td>{_fmt(row.get(k))}</td></tr>" for k in SHOWN_SCORES)
    src = f"../soundtracks/{row.get('output_key') or row['content_hash']}.mp4"
    if row.get("mix") == KEEP:  # nothing was made: the video keeps its own sound
        player = "<p><i>kept its own sound (no music made)</i></p>"
    else:
        player = f'<video controls preload="metadata" src="{html.escape(src)}"></video>'
    sound = (f'mix: {html.escape(row.get("mix") or "n/a")} under {html.escape(row.get("mix_policy") or "n/a")} '
             f'(source: {html.escape(row.get("source_audio") or "n/a")}); '
             f'{_fmt(row.get("output_lufs"))} LUFS, {_fmt(row.get("output_true_peak_dbtp"))} dBTP')
    if (row.get("candidates") or 1) > 1:
        sound += "<br>" + _candidates(row)
    controls = json.loads(row.get("controls") or "{}")
    if controls:  # the manifest's per-video settings (soundtrack/controls.py), the prompt among them
        sound += "<br>controls: " + html.escape(", ".join(f"{k}={v!r}" for k, v in sorted(controls.items())))
    return (f'<div class="video" {data}>{player}'
            f'<div><b>{html.escape(row["video_id"])}</b> ({_fmt(row["duration_s"])} s)<br>'
            f'<small>{html.escape(row["source_uri"])}</small><br><small class="sound">{sound}</small><br>'
            f'{beat_plot(row)}<table class="s">{scores}</table></div></div>')


def review_page(rows: list[dict], layout: Layout, worst_key: str) -> str:
    ok = [r for r in rows if r["status"] == STATUS_OK]
    errors = [r for r in rows if r["status"] != STATUS_OK]
    options = "".join(f'<option value="{k.replace("_", "")}"{" selected" if k == worst_key else ""}>{k}</option>'
                      for k in SHOWN_SCORES)
    error_rows = "".join(f"<tr><td>{html.escape(r['video_id'])}</td><td>{html.escape(r['source_uri'])}</td>"
                         f"<td>{html.escape(r['reason'])}</td></tr>" for r in errors)
    names = {k.replace("_", ""): k for k in SHOWN_SCORES}
    version = html.escape(layout.root.rstrip("/").rsplit("/", 1)[-1])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Soundtracks {version}</title>"
            f"<style>{_STYLE}</style></head><body>"
            f"<h1>Soundtracks <small>{version}</small></h1>"
            f"<p>{len(ok)} ok, {len(errors)} error. "
            f"<button id='worst'>worst first ({worst_key})</button> <button id='best'>best first</button> "
            f"sort by <select id='key'>{options}</select> <span id='order'>input order</span></p>"
            "<p class='legend'><span style='color:#1f77b4'>| visual beats (rhythm curve)</span>"
            "<span style='color:#2ca02c'>| visual beats (optical flow)</span>"
            "<span style='color:#ff7f0e'>| music onsets</span></p>"
            f"<div id='videos'>{''.join(_card(r, layout) for r in ok)}</div>"
            f"<h2>Errors ({len(errors)})</h2><table id='errors'><tr><th>video</th><th>source</th><th>reason</th></tr>"
            f"{error_rows}</table>"
            f"<script>const WORST_KEY = {json.dumps(worst_key.replace('_', ''))}; const NAMES = {json.dumps(names)};"
            f"{_SCRIPT}</script></body></html>")
