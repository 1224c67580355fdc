"""Inline SVG charts for the HTML report: no script, no fonts, nothing fetched.

Each function returns one `<svg>` element as a string. Every piece of text that came from
the database goes through `esc`; numbers are formatted here. Legends are left to the page
(HTML wraps on a phone, SVG text does not).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

# Okabe–Ito, readable for the common colour-vision deficiencies; yellow swapped for a wine red.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#882255", "#555555")
STATUS_COLOURS = {
    "active": "#009E73",
    "banned": "#C0392B",
    "suspended": "#D55E00",
    "quarantined": "#E69F00",
    "private": "#6A51A3",
    "restricted": "#8C6BB1",
    "protected": "#56B4E9",
    "not_found": "#7F7F7F",
    "archived": "#A0A0A0",
    "blocked": "#882255",
    "unknown": "#8b929c",
}
W, H = 640, 300  # viewBox size; the SVG scales to its container
LEFT, RIGHT, TOP, BOTTOM = 58, 28, 14, 34
FONT = 'font-family="system-ui,-apple-system,Segoe UI,Roboto,sans-serif" font-size="12"'


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def short_count(v: float) -> str:
    """1200 -> 1.2k, 3000000 -> 3M: axis labels stay short."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            s = f"{v / size:.1f}".rstrip("0").rstrip(".")
            return f"{s}{suffix}"
    return f"{v:g}"


def _svg(body: list[str], label: str, height: int = H) -> str:
    return (
        f'<svg viewBox="0 0 {W} {height}" role="img" aria-label="{esc(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT}>' + "".join(body) + "</svg>"
    )


def _time_axis(t0: datetime, t1: datetime, height: int) -> tuple[list[str], float]:
    """Vertical grid lines and date labels; returns (elements, seconds per pixel)."""
    span = max((t1 - t0).total_seconds(), 1.0)
    px = (W - LEFT - RIGHT) / span
    out = []
    days = span / 86400
    step = next(s for s in (1, 2, 7, 14, 30, 61, 91, 182, 365, 730, 10**9) if days / s <= 7)
    tick = datetime(t0.year, t0.month, t0.day, tzinfo=t0.tzinfo)
    if step >= 30:
        tick = datetime(t0.year, t0.month, 1, tzinfo=t0.tzinfo)
    while tick <= t1:
        if tick >= t0:
            x = LEFT + (tick - t0).total_seconds() * px
            out.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{height - BOTTOM}" stroke="#e5e7eb"/>'
            )
            label = tick.strftime("%b %Y") if step >= 30 else tick.strftime("%d %b")
            out.append(
                f'<text x="{x:.1f}" y="{height - BOTTOM + 16}" text-anchor="middle" fill="#4b5563">'
                f"{label}</text>"
            )
        if step >= 30:
            months = step // 30
            m = tick.month - 1 + months
            tick = tick.replace(year=tick.year + m // 12, month=m % 12 + 1)
        else:
            tick += timedelta(days=step)
    return out, px


def growth_chart(series: Sequence[dict], t0: datetime, t1: datetime) -> str:
    """Members over time on a log scale, one line per community. A zero (a ban) is drawn
    as a cross on the bottom edge: a log scale has no place for it."""
    values = [p[1] for s in series for p in s["points"] if p[1] is not None and p[1] > 0]
    if not values:
        return _svg(
            [
                f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#6b7280">'
                "no member counts in this window</text>"
            ],
            "no data",
        )
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi <= lo:
        hi = lo * 10
    llo, lhi = math.log10(lo), math.log10(hi)
    plot_h = H - TOP - BOTTOM

    def y(v: float) -> float:
        return TOP + plot_h * (1 - (math.log10(v) - llo) / (lhi - llo))

    body, px = _time_axis(t0, t1, H)
    decades = round(lhi - llo)
    mults = (1, 2, 5) if decades <= 3 else (1,)
    for e in range(int(llo), int(lhi) + 1):
        for m in mults:
            v = m * 10**e
            if not lo <= v <= hi:
                continue
            major = m == 1
            body.append(
                f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                f'stroke="{"#d1d5db" if major else "#f0f1f3"}"/>'
            )
            body.append(
                f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#4b5563">'
                f"{short_count(v)}</text>"
            )
    body.append(
        f'<text x="14" y="{TOP + plot_h / 2:.0f}" transform="rotate(-90 14 {TOP + plot_h / 2:.0f})" '
        'text-anchor="middle" fill="#374151">members (log scale)</text>'
    )
    for i, s in enumerate(series):
        c = colour(i)
        # A UTC day without an observation between two points breaks the line: a gap is
        # not a trend, and drawing through it would hide what is missing.
        segments: list[list[str]] = [[]]
        prev_day = None
        drops: list[tuple[float, float | None]] = []  # (x of the zero, y of the point before)
        prev_y: float | None = None
        was_zero = False
        for when, v in s["points"]:
            if v is None:
                continue
            t = parse_time(when)
            if prev_day is not None and (t.date() - prev_day).days > 1 and segments[-1]:
                segments.append([])
            prev_day = t.date()
            x = LEFT + (t - t0).total_seconds() * px
            if v > 0:
                prev_y = y(v)
                segments[-1].append(f"{x:.1f},{prev_y:.1f}")
                was_zero = False
            elif not was_zero:  # only the first zero of a run: the fall itself
                drops.append((x, prev_y))
                was_zero = True
        name = esc(s.get("label") or s["handle"])
        for pts in segments:
            if len(pts) > 1:
                body.append(
                    f'<polyline points="{" ".join(pts)}" fill="none" stroke="{c}" stroke-width="2" '
                    f'stroke-linejoin="round"><title>{name}</title></polyline>'
                )
            elif pts:
                cx, cy = pts[0].split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{c}"><title>{name}</title></circle>')
        yb = H - BOTTOM
        for x, before in drops:
            if before is not None:
                body.append(
                    f'<line x1="{x:.1f}" y1="{before:.1f}" x2="{x:.1f}" y2="{yb - 6}" stroke="{c}" '
                    'stroke-width="1.5" stroke-dasharray="4 3"/>'
                )
            body.append(
                f'<path d="M{x - 5:.1f},{yb - 11} l10,10 m0,-10 l-10,10" stroke="{c}" '
                f'stroke-width="2.5"><title>{name}: 0 members</title></path>'
            )
    body.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{plot_h}" fill="none" '
        'stroke="#9ca3af"/>'
    )
    return _svg(body, "members over time, log scale")


def weekly_chart(weeks: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]) -> str:
    """Mentions per week, one line per tool, linear scale from zero."""
    if not weeks or not series:
        return _svg(
            [
                f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#6b7280">'
                "no tool mentions in this span</text>"
            ],
            "no data",
        )
    top = max(1, max(max(v) for _, v in series))
    step = _nice_step(top)
    ymax = step * math.ceil(top / step)
    plot_h, plot_w = H - TOP - BOTTOM, W - LEFT - RIGHT
    n = len(weeks)

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / ymax)

    body = []
    for k in range(int(ymax / step) + 1):
        v = k * step
        body.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e7eb"/>')
        body.append(
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#4b5563">'
            f"{short_count(v)}</text>"
        )
    every = max(1, math.ceil(n / 7))
    for i, label in enumerate(weeks):
        if (n - 1 - i) % every == 0:
            anchor = "end" if i == n - 1 and n > 1 else "start" if i == 0 and n > 1 else "middle"
            shift = {"end": 8, "start": -8}.get(anchor, 0)
            body.append(
                f'<text x="{x(i) + shift:.1f}" y="{H - BOTTOM + 16}" '
                f'text-anchor="{anchor}" fill="#4b5563">{esc(label)}</text>'
            )
    body.append(
        f'<text x="14" y="{TOP + plot_h / 2:.0f}" transform="rotate(-90 14 {TOP + plot_h / 2:.0f})" '
        'text-anchor="middle" fill="#374151">mentions per week</text>'
    )
    for j, (name, values) in enumerate(series):
        c = colour(j)
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        body.append(
            f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2" '
            f'stroke-linejoin="round"><title>{esc(name)}</title></polyline>'
        )
        body.extend(
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{c}">'
            f"<title>{esc(name)}: {v} ({esc(weeks[i])})</title></circle>"
            for i, v in enumerate(values)
        )
    body.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#9ca3af"/>'
    )
    return _svg(body, "tool mentions per week")


def _nice_step(top: float) -> float:
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return max(1.0, m * mag)
    return max(1.0, 10 * mag)


def status_timeline(changes: Sequence[dict], t0: datetime, t1: datetime) -> str:
    """One lane per community: a dot coloured by the new status at each change, labelled."""
    lanes: list[str] = []
    for ch in changes:
        key = f"{ch['platform']}: {ch['handle']}"
        if key not in lanes:
            lanes.append(key)
    lane_h = 34
    height = TOP + BOTTOM + max(1, len(lanes)) * lane_h
    if not lanes:
        return _svg(
            [
                f'<text x="{W / 2}" y="{TOP + 24}" text-anchor="middle" fill="#6b7280">'
                "no status changes in this window</text>"
            ],
            "no status changes",
            height + 10,
        )
    body, px = _time_axis(t0, t1, height)
    label_w = LEFT  # lane labels sit above each lane, left-aligned, so long handles fit
    for i, key in enumerate(lanes):
        yl = TOP + i * lane_h + lane_h * 0.68
        body.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{yl:.1f}" y2="{yl:.1f}" stroke="#d1d5db"/>')
        body.append(
            f'<text x="{label_w}" y="{yl - 9:.1f}" fill="#111827" font-weight="600">{esc(key)}</text>'
        )
    xs = [LEFT + (parse_time(ch["observed_at"]) - t0).total_seconds() * px for ch in changes]
    for k, ch in enumerate(changes):
        lane = f"{ch['platform']}: {ch['handle']}"
        i = lanes.index(lane)
        yl = TOP + i * lane_h + lane_h * 0.68
        x = xs[k]
        same = [
            xs[j]
            for j, other in enumerate(changes)
            if j != k and f"{other['platform']}: {other['handle']}" == lane
        ]
        room_right = min([o - x for o in same if o >= x] + [W - RIGHT - x])
        room_left = min([x - o for o in same if o <= x] + [x - LEFT])
        c = STATUS_COLOURS.get(ch["new_status"], "#555555")
        tip = f"{ch['observed_at']}: {ch['old_status'] or 'first seen'} → {ch['new_status']}"
        if ch.get("reason"):
            tip += f" ({ch['reason']})"
        body.append(
            f'<circle cx="{x:.1f}" cy="{yl:.1f}" r="6" fill="{c}" stroke="#fff" stroke-width="1.5">'
            f"<title>{esc(tip)}</title></circle>"
        )
        need = 12 + 7 * len(ch["new_status"])  # label width at 12px, roughly
        if room_right > need:
            anchor, dx = "start", 9
        elif room_left > need:
            anchor, dx = "end", -9
        else:
            continue  # no room: the dot's colour and its tooltip carry it
        body.append(
            f'<text x="{x + dx:.1f}" y="{yl + 4:.1f}" text-anchor="{anchor}" fill="{c}" '
            f'font-weight="600">{esc(ch["new_status"])}</text>'
        )
    return _svg(body, "status changes over time", height)


def domain_bars(domains: Sequence[dict], limit: int = 10) -> str:
    """Horizontal bars of each domain's share of linked posts."""
    rows = list(domains[:limit])
    if not rows:
        return ""
    biggest = max(float(d["share"]) for d in rows) or 1.0
    bar_h, name_w = 24, 170
    height = TOP + len(rows) * bar_h + 6
    body = []
    for i, d in enumerate(rows):
        yy = TOP + i * bar_h
        w = (W - name_w - 70) * float(d["share"]) / biggest
        body.append(
            f'<text x="{name_w - 8}" y="{yy + 15}" text-anchor="end" fill="#111827">{esc(d["domain"])}</text>'
        )
        body.append(
            f'<rect x="{name_w}" y="{yy + 4}" width="{max(w, 1):.1f}" height="{bar_h - 8}" '
            f'fill="{colour(0)}" rx="2"/>'
        )
        body.append(
            f'<text x="{name_w + w + 6:.1f}" y="{yy + 15}" fill="#374151">'
            f"{100 * float(d['share']):.1f} %</text>"
        )
    return _svg(body, "link domains by share of linked posts", height)
