"""``edit.html``: one self-contained page that shows an edit (no network: inline CSS, JS and SVG,
thumbnails as ``data:`` URIs).

Every piece of text that comes from outside (clip names, reasons, warnings, file names) goes
through :func:`html.escape`; the page's script reads it back with ``textContent`` only.
"""

from __future__ import annotations

import base64
import html
import math

from dashboard.edit_view import EditView, LeftOut, MusicView, TrackView

WIDTH = 1200  # SVG user units across the timeline
LABEL = 44  # track label column
TRACK_H = 70
MUSIC_H = 96
RULER_H = 22
MARKER_H = 16
SECTION_COLOURS = {"intro": "#4b6a88", "build": "#8a7a3c", "peak": "#9a3f3f", "outro": "#4b6a88", "break": "#555"}


def e(value: object) -> str:
    """HTML-escaped text, quotes included (safe in element content and in attribute values)."""
    return html.escape(str(value), quote=True)


def data_uri(jpeg: bytes | None) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii") if jpeg else ""


def _x(seconds: float, scale: float) -> float:
    return LABEL + seconds * scale


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def render_html(view: EditView) -> str:
    """The page for ``view`` as one string."""
    scale = (WIDTH - LABEL - 4) / view.duration if view.duration > 0 else 1.0
    svg = _timeline_svg(view, scale)
    summary = [
        ("rate", f"{view.rate} fps"),
        ("duration", _seconds(view.duration)),
        ("starts", view.start_timecode),
        ("clips used", f"{view.clips_used}/{view.clips_total}"),
        ("cuts", str(sum(len(t.cuts) for t in view.tracks if t.kind == "video"))),
        ("style", view.style),
        ("mode", view.mode),
        ("planner", view.planner),
        ("frame", f"{view.size} ({view.aspect})"),
    ]
    if view.music is not None:
        summary.append(("music", f"{view.music.name}, {view.music.tempo_bpm:.1f} BPM ({view.music.pulse})"))
    summary += list(view.quality.items())
    facts = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in summary)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing on this page may be fetched: it is opened from disk, on machines without network.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
        f"<title>{e(view.name)} — Montage Bridge edit</title>",
        '<link rel="icon" href="data:,">',
        f"<style>{_CSS}</style></head><body>",
        f'<header><h1 id="title">{e(view.name)}</h1><dl class="facts">{facts}</dl></header>',
        '<section id="timeline"><h2>Timeline</h2>',
        '<p class="hint">Hover a cut for why it was chosen; a beat line is a beat, a taller one a downbeat.</p>',
        svg,
        "</section>",
        _cut_table(view),
        _warnings(view.warnings),
        _left_out(view.left_out),
        _losses(view),
        '<div id="tip" role="tooltip" hidden></div>',
        f"<script>{_JS}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _timeline_svg(view: EditView, scale: float) -> str:
    video = [t for t in view.tracks if t.kind == "video"]
    audio = [t for t in view.tracks if t.kind == "audio"]
    rows: list[str] = []
    y = 0
    rows.append(_ruler(view, scale, y))
    y += RULER_H
    if view.markers:
        rows.append(_markers(view, scale, y))
        y += MARKER_H
    for track in reversed(video):  # V2 above V1, as in an NLE
        rows.append(_track(track, scale, y))
        y += TRACK_H
    if view.music is not None:
        rows.append(_music(view.music, scale, y))
        y += MUSIC_H
    for track in audio:
        rows.append(_track(track, scale, y))
        y += TRACK_H // 2
    return (
        f'<svg id="edit-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {y}" '
        f'width="100%" role="img" aria-label="timeline of {e(view.name)}">' + "".join(rows) + "</svg>"
    )


def _ruler(view: EditView, scale: float, y: int) -> str:
    step = _nice_step(view.duration)
    out = [f'<rect x="0" y="{y}" width="{WIDTH}" height="{RULER_H}" class="ruler"/>']
    t = 0.0
    while t <= view.duration + 1e-9:
        x = _x(t, scale)
        out.append(f'<line x1="{x:.1f}" y1="{y + RULER_H - 6}" x2="{x:.1f}" y2="{y + RULER_H}" class="tick"/>')
        out.append(f'<text x="{x + 2:.1f}" y="{y + 13}" class="small">{t:g}s</text>')
        t += step
    return "".join(out)


def _nice_step(duration: float) -> float:
    if duration <= 0:
        return 1.0
    raw = duration / 12
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def _markers(view: EditView, scale: float, y: int) -> str:
    out = []
    for seconds, kind, name in view.markers:
        x = _x(seconds, scale)
        tip = f"marker ({kind}) at {_seconds(seconds)}: {name}"
        out.append(
            f'<path d="M{x:.1f} {y + 2} l5 6 l-5 6 l-5 -6 z" class="marker m-{e(kind)}" data-tip="{e(tip)}">'
            f"<title>{e(tip)}</title></path>"
        )
    return "".join(out)


def _track(track: TrackView, scale: float, y: int) -> str:
    height = TRACK_H if track.kind == "video" else TRACK_H // 2
    out = [
        f'<g class="track" data-track="{e(track.label)}">',
        f'<text x="6" y="{y + height / 2 + 5:.1f}" class="label">{e(track.label)}</text>',
    ]
    for i, cut in enumerate(track.cuts):
        x0, x1 = _x(cut.start, scale), _x(cut.end, scale)
        w = max(1.0, x1 - x0)
        tip = (
            f"{cut.clip_name} — {cut.timecode_in} to {cut.timecode_out} ({_seconds(cut.end - cut.start)}); "
            f"source frames {cut.source_in}–{cut.source_out}"
            + (f", shot {cut.shot + 1}" if cut.shot is not None else "")
            + f"; enters with a {cut.transition}. Why: {cut.reason or 'no reason given'}"
        )
        out.append(
            f'<g class="cut" data-index="{i}" data-clip="{e(cut.clip_id)}" data-tip="{e(tip)}" tabindex="0">'
            f"<title>{e(tip)}</title>"
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{w:.1f}" height="{height - 6}" class="cut-box k-{track.kind}"/>'
        )
        if cut.thumb:
            out.append(
                f'<svg x="{x0:.1f}" y="{y + 3}" width="{w:.1f}" height="{height - 6}">'
                f'<image href="{data_uri(cut.thumb)}" width="100%" height="100%" '
                'preserveAspectRatio="xMidYMid slice"/></svg>'
            )
        if w > 36:
            out.append(
                f'<text x="{x0 + 3:.1f}" y="{y + height - 7}" class="clipname" '
                f'textLength="{min(w - 6, 8 * len(cut.clip_id)):.0f}" lengthAdjust="spacingAndGlyphs">'
                f"{e(cut.clip_id)}</text>"
            )
        out.append("</g>")
    out.append("</g>")
    return "".join(out)


def _music(music: MusicView, scale: float, y: int) -> str:
    top, bottom = y + 4, y + MUSIC_H - 4
    out = [f'<g id="music" data-tip="{e(_music_tip(music))}">', f'<text x="6" y="{y + 14}" class="label">♪</text>']
    for s in music.sections:
        x0, x1 = _x(s.start, scale), _x(s.end, scale)
        colour = SECTION_COLOURS.get(s.label, "#555")
        tip = f"{s.label}: {_seconds(s.start)}–{_seconds(s.end)}, energy {s.energy:.2f}"
        out.append(
            f'<rect x="{x0:.1f}" y="{top}" width="{max(1.0, x1 - x0):.1f}" height="{bottom - top}" '
            f'fill="{colour}" class="section" data-section="{e(s.label)}" data-tip="{e(tip)}"><title>{e(tip)}</title>'
            f'</rect><text x="{x0 + 3:.1f}" y="{top + 12}" class="small">{e(s.label)}</text>'
        )
    if not music.sections:
        x0, x1 = _x(music.start, scale), _x(music.end, scale)
        out.append(f'<rect x="{x0:.1f}" y="{top}" width="{x1 - x0:.1f}" height="{bottom - top}" class="bed"/>')
    if music.energy:
        pts = [f"{_x(music.energy[0][0], scale):.1f},{bottom}"]
        pts += [f"{_x(t, scale):.1f},{bottom - v * (bottom - top - 16):.1f}" for t, v in music.energy]
        pts.append(f"{_x(music.energy[-1][0], scale):.1f},{bottom}")
        out.append(f'<polygon points="{" ".join(pts)}" class="energy"/>')
    downs = {round(d, 3) for d in music.downbeats}
    for b in music.beats:
        x = _x(b, scale)
        down = round(b, 3) in downs
        out.append(
            f'<line x1="{x:.1f}" y1="{top + (0 if down else 40)}" x2="{x:.1f}" y2="{bottom}" '
            f'class="{"downbeat" if down else "beat"}"/>'
        )
    for d in music.downbeats:
        if round(d, 3) not in {round(b, 3) for b in music.beats}:
            x = _x(d, scale)
            out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" class="downbeat"/>')
    out.append("</g>")
    return "".join(out)


def _music_tip(music: MusicView) -> str:
    text = f"{music.name}: from {_seconds(music.source_in)} into the song, {music.tempo_bpm:.1f} BPM"
    return text + (f". Why here: {music.reason}" if music.reason else "")


def _cut_table(view: EditView) -> str:
    rows = []
    for track in view.tracks:
        for i, cut in enumerate(track.cuts):
            thumb = f'<img alt="" src="{data_uri(cut.thumb)}">' if cut.thumb else ""
            rows.append(
                f'<tr data-track="{e(track.label)}" data-index="{i}"><td>{e(track.label)}</td><td>{thumb}</td>'
                f"<td>{e(cut.clip_name)}</td><td>{e(cut.timecode_in)}</td><td>{e(_seconds(cut.end - cut.start))}"
                f"</td><td>{e(cut.transition)}</td><td>{e(cut.reason)}</td></tr>"
            )
    return (
        '<section id="cuts"><h2>Cuts</h2><table><thead><tr><th>track</th><th></th><th>clip</th><th>record in</th>'
        "<th>length</th><th>enters</th><th>why</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def _warnings(warnings: list[str]) -> str:
    if not warnings:
        return '<section id="warnings"><h2>Warnings</h2><p class="ok">None.</p></section>'
    items = "".join(f"<li>{e(w)}</li>" for w in warnings)
    return f'<section id="warnings"><h2>Warnings ({len(warnings)})</h2><ul>{items}</ul></section>'


def _left_out(rows: list[LeftOut]) -> str:
    if not rows:
        return (
            '<section id="left-out"><h2>Left out</h2>'
            '<p class="ok">Every clip is used; nothing was set aside.</p></section>'
        )
    body = []
    for r in rows:
        thumb = f'<img alt="" src="{data_uri(r.thumb)}">' if r.thumb else ""
        shot = "whole clip" if r.shot is None else f"shot {r.shot + 1}"
        used = ' <span class="badge">used anyway</span>' if r.used_anyway else ""
        body.append(
            f'<tr data-clip="{e(r.clip_id)}"><td>{thumb}</td><td>{e(r.clip_name)}</td><td>{e(shot)}</td>'
            f"<td>{e(r.span)}</td><td>{e(r.reason)}{used}</td></tr>"
        )
    return (
        f'<section id="left-out"><h2>Left out ({len(rows)})</h2><table><thead><tr><th></th><th>clip</th>'
        "<th>what</th><th>source</th><th>why</th></tr></thead><tbody>" + "".join(body) + "</tbody></table></section>"
    )


def _losses(view: EditView) -> str:
    if not view.losses:
        return (
            '<section id="losses"><h2>What each format loses</h2>'
            '<p class="ok">No timeline files were written with this picture.</p></section>'
        )
    blocks = []
    for fl in view.losses:
        files = ", ".join(fl.files)
        if fl.error:
            inner = f'<p class="warn">{e(fl.error)}</p>'
        elif not fl.losses:
            inner = '<p class="ok">Nothing lost: this file holds the whole edit.</p>'
        else:
            inner = "<ul>" + "".join(f"<li><b>{e(f)}</b> ({c}): {e(d)}</li>" for f, c, d in fl.losses) + "</ul>"
        blocks.append(
            f'<div class="format" data-format="{e(fl.format)}"><h3>{e(fl.format)} — {e(files)}</h3>{inner}</div>'
        )
    return '<section id="losses"><h2>What each format loses</h2>' + "".join(blocks) + "</section>"


_CSS = """
:root{color-scheme:dark;--bg:#15171a;--fg:#e6e6e6;--dim:#9aa0a6;--line:#2c3036}
body{margin:0;padding:16px 24px;background:var(--bg);color:var(--fg);font:14px/1.4 system-ui,sans-serif}
h1{margin:0 0 8px;font-size:22px}h2{font-size:16px;margin:24px 0 8px}h3{font-size:14px;margin:8px 0 4px}
.facts{display:flex;flex-wrap:wrap;gap:4px 20px;margin:0}.facts div{display:flex;gap:6px}
dt{color:var(--dim)}dd{margin:0}
svg{background:#1c1f23;border:1px solid var(--line);border-radius:4px}
.ruler{fill:#202328}.tick{stroke:#666}.small{fill:var(--dim);font-size:10px}
.label{fill:var(--fg);font-size:13px;font-weight:600}
.cut-box.k-video{fill:#2f4f6f;stroke:#0b0d10;stroke-width:1}.cut-box.k-audio{fill:#3c6b4a;stroke:#0b0d10}
.cut:hover .cut-box,.cut:focus .cut-box{stroke:#ffd54a;stroke-width:3}
.cut:hover,.cut:focus{outline:none}
.clipname{fill:#fff;font-size:11px;paint-order:stroke;stroke:#000;stroke-width:3px}
.section{opacity:.45}.bed{fill:#333}.energy{fill:#7fb3ff;opacity:.55}
.beat{stroke:#e6e6e6;stroke-width:.6;opacity:.5}.downbeat{stroke:#ffd54a;stroke-width:1.4}
.marker{fill:#6fa8ff}.m-chapter,.m-section{fill:#ffb74a}.m-note{fill:#c07fff}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:middle}
td img{height:36px;border-radius:2px;display:block}
.hint,.ok{color:var(--dim)}.warn{color:#ffb74a}#warnings li{color:#ffcf7a}
.badge{background:#6b4a1a;border-radius:3px;padding:0 4px;font-size:12px}
#tip{position:fixed;max-width:460px;background:#000d;border:1px solid #555;border-radius:4px;padding:6px 8px;
pointer-events:none;font-size:13px;z-index:10}
"""

# Shows the hovered element's data-tip (textContent only: the text is never parsed as HTML).
_JS = """
(function(){
  var tip=document.getElementById('tip');
  function show(el,x,y){tip.textContent=el.getAttribute('data-tip');tip.hidden=false;
    tip.style.left=Math.min(x+14,window.innerWidth-480)+'px';tip.style.top=(y+14)+'px';}
  function find(t){while(t&&t.getAttribute){if(t.hasAttribute('data-tip'))return t;t=t.parentNode;}return null;}
  document.addEventListener('mousemove',function(ev){var el=find(ev.target);
    if(el){show(el,ev.clientX,ev.clientY);}else{tip.hidden=true;}});
  document.addEventListener('focusin',function(ev){var el=find(ev.target);
    if(el){var r=el.getBoundingClientRect();show(el,r.left,r.bottom);}});
  document.addEventListener('focusout',function(){tip.hidden=true;});
})();
"""
