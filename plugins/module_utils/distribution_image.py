# -*- coding: utf-8 -*-
# Copyright: taskspread.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A picture of a ``task_distribution_info`` result (with ``detail``), drawn with matplotlib.

Availability Zones are columns, container instances are boxes inside them, every task is a
square mark coloured by its service; below, one line per service with its colour, its skew per
placement level and whether it is balanced. Large clusters stay legible: boxes wrap into
several columns per AZ, an instance with more tasks than its box holds shows ``+N``, and
beyond ``MAX_LISTED`` services the rest share one grey colour and one ``+N more`` line.

Everything is laid out in inches on one axes that covers the figure (y grows downwards), then
the figure is widened if a text would reach past the right margin, so nothing is cut off.
The PNG is deterministic (matplotlib's default style, bundled DejaVu fonts, fixed metadata):
the same input gives the same bytes, so writing it is idempotent. Its ``Description`` text
chunk holds the distribution as text lines, which is what a diff of two pictures shows.
"""

from __future__ import annotations

import io
import math
import traceback

try:
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    from PIL import Image  # matplotlib's own PNG reader and writer
    HAS_MATPLOTLIB = True
    MATPLOTLIB_IMPORT_ERROR = None
except ImportError:
    HAS_MATPLOTLIB = False
    MATPLOTLIB_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.taskspread.ecs.plugins.module_utils.distribution_view import (
    ViewError, check_info, instance_label, skew_text, sorted_instances, state, table_lines,
    tasks_on,
)

DPI = 100
FONT = "DejaVu Sans"
MONO = "DejaVu Sans Mono"
SOFTWARE = "taskspread.ecs distribution_image"

# Layout, in inches.
MARGIN = 0.35
MIN_WIDTH = 7.5
TITLE_BLOCK = 1.0
AZ_HEAD = 0.62
AZ_PAD = 0.15
AZ_GAP = 0.25
BOX_W = 2.3
BOX_HEAD = 0.46
BOX_PAD = 0.12
BOX_GAP = 0.15
MARK = 0.15
PITCH = 0.2
MARKS_PER_ROW = 10
MAX_MARK_ROWS = 4
LEGEND_GAP = 0.3
LEGEND_ROW = 0.27
STATE_COLUMN = 0.3
TEXT_COLUMN = 1.85          # after "OUT OF BALANCE"
TEXT_COLUMN_NARROW = 1.2    # after "balanced" or "skipped"

MAX_LISTED = 9          # services with a colour and a line of their own
MAX_NAME = 40
MAX_INSTANCE_LABEL = 22
MAX_REASON = 90

# matplotlib's tab10 without its grey, which marks the services past MAX_LISTED.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#bcbd22", "#17becf"]
OTHER = "#9e9e9e"
STATE_COLOURS = {"balanced": "#1b5e20", "unbalanced": "#b71c1c", "skipped": "#555555"}
STATE_WORDS = {"balanced": "balanced", "unbalanced": "OUT OF BALANCE", "skipped": "skipped"}


class Picture:
    """The figure (for inspection) and the words it shows, before it becomes PNG bytes."""

    def __init__(self, figure, description, services, listed):
        self.figure = figure
        self.description = description
        self.services = services
        self.listed = listed

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.figure.get_size_inches()
        return round(width * DPI), round(height * DPI)

    def texts(self) -> list[str]:
        return [t.get_text() for t in self.figure.findobj(matplotlib.text.Text) if t.get_text()]

    def png(self) -> bytes:
        out = io.BytesIO()
        metadata = {"Software": SOFTWARE, "Title": self.description[0],
                    "Description": "\n".join(self.description)}
        with matplotlib.style.context("default"):
            self.figure.savefig(out, format="png", dpi=DPI, metadata=metadata)
        return out.getvalue()


def description_of(png: bytes | None) -> str:
    """The Description text of a PNG this module wrote ('' for none or another picture)."""
    if not png:
        return ""
    try:
        with Image.open(io.BytesIO(png)) as image:
            return str(getattr(image, "text", {}).get("Description", ""))
    except (OSError, SyntaxError, ValueError):
        return ""


def _short(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _columns_per_az(most: int, azs: int) -> int:
    """Box columns inside each AZ: enough that an AZ is not much taller than the picture is
    wide (the boxes of 40 instances in one AZ make 4 columns of 10)."""
    columns = 1
    while math.ceil(most / columns) > 4 * columns * azs:
        columns += 1
    return columns


def _selected(info: dict, services) -> list[str]:
    names = sorted(info["services"])
    if not services:
        return names
    unknown = [n for n in services if n not in info["services"]]
    if unknown:
        raise ViewError(f"unknown service(s) {', '.join(unknown)}; the result has: "
                        f"{', '.join(names) or 'none'}")
    return [n for n in names if n in set(services)]


def _verdict(info: dict, names: list[str]) -> tuple[str, str]:
    kinds = {n: state(info["services"][n])[0] for n in names}
    unbalanced = [n for n in names if kinds[n] == "unbalanced"]
    skipped = sum(1 for k in kinds.values() if k == "skipped")
    tail = f"; {skipped} skipped" if skipped else ""
    if not names:
        return "no services", "skipped"
    if not unbalanced:
        return f"all {_plural(len(names) - skipped, 'service')} balanced{tail}", "balanced"
    shown = ", ".join(_short(n, MAX_NAME) for n in unbalanced[:3])
    more = f" (+{len(unbalanced) - 3} more)" if len(unbalanced) > 3 else ""
    return (f"{len(unbalanced)} of {_plural(len(names), 'service')} OUT OF BALANCE: "
            f"{shown}{more}{tail}"), "unbalanced"


def build(info: dict, title: str | None = None, label: str = "",
          services: list[str] | None = None) -> Picture:
    """Lay out and draw the picture; raises ViewError for input that is not a detailed
    task_distribution_info result."""
    if not HAS_MATPLOTLIB:
        raise ViewError("the picture needs the Python library matplotlib")
    check_info(info, need_detail=True)
    names = _selected(info, services)
    title = title or f"ECS cluster {info.get('cluster') or '?'}"
    listed = names if len(names) <= MAX_LISTED else names[:MAX_LISTED - 1]
    colour = {n: (PALETTE[i] if n in listed else OTHER) for i, n in enumerate(names)}
    verdict, verdict_kind = _verdict(info, names)

    instances = sorted_instances(info)
    by_az: dict[str, list[dict]] = {}
    for instance in instances:
        by_az.setdefault(instance.get("az") or "?", []).append(instance)
    for name in names:
        for az in info["services"][name].get("azs") or {}:
            by_az.setdefault(az, [])
    azs = sorted(by_az)
    load = {i.get("arn"): [(n, tasks_on(info["services"][n], i.get("arn"))) for n in names]
            for i in instances}
    most_tasks = max([sum(c for _name, c in load[i.get("arn")]) for i in instances] or [0])
    mark_rows = min(MAX_MARK_ROWS, max(1, math.ceil(most_tasks / MARKS_PER_ROW)))
    box_h = BOX_HEAD + mark_rows * PITCH + BOX_PAD
    columns = _columns_per_az(max([len(v) for v in by_az.values()] or [1]), max(1, len(azs)))
    rows = max([math.ceil(len(v) / columns) for v in by_az.values()] or [1])
    rows = max(rows, 1)
    az_w = 2 * AZ_PAD + columns * BOX_W + (columns - 1) * BOX_GAP
    az_h = AZ_HEAD + rows * box_h + (rows - 1) * BOX_GAP + AZ_PAD
    legend_rows = len(listed) + (1 if len(listed) < len(names) else 0) + 1
    width = max(MIN_WIDTH, 2 * MARGIN + len(azs) * az_w + max(0, len(azs) - 1) * AZ_GAP)
    height = MARGIN + TITLE_BLOCK + az_h + LEGEND_GAP + legend_rows * LEGEND_ROW + MARGIN

    with matplotlib.style.context("default"):
        figure = Figure(figsize=(width, height), dpi=DPI, facecolor="white")
        FigureCanvasAgg(figure)
        ax = figure.add_axes((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)

        def text(x, y, s, size=9.0, **kw):
            kw.setdefault("family", FONT)
            return ax.text(x, y, s, fontsize=size, va=kw.pop("va", "top"), ha="left", **kw)

        y = MARGIN
        text(MARGIN, y, title, 15, weight="bold")
        if label:
            text(MARGIN, y + 0.34, label, 10.5, color="#333333")
        text(MARGIN, y + 0.62, verdict, 10.5, weight="bold", color=STATE_COLOURS[verdict_kind])

        top = MARGIN + TITLE_BLOCK
        for index, az in enumerate(azs):
            x0 = MARGIN + index * (az_w + AZ_GAP)
            ax.add_patch(Rectangle((x0, top), az_w, az_h, facecolor="#edf2f9",
                                   edgecolor="#b0bec5", linewidth=0.8))
            members = by_az[az]
            tasks = sum(c for i in members for _name, c in load[i.get("arn")])
            text(x0 + AZ_PAD, top + 0.1, az, 11.5, weight="bold")
            text(x0 + AZ_PAD, top + 0.34,
                 f"{_plural(len(members), 'instance')} · {_plural(tasks, 'task')}"
                 if members else "no container instances", 8.5, color="#37474f")
            for slot, instance in enumerate(members):
                bx = x0 + AZ_PAD + (slot % columns) * (BOX_W + BOX_GAP)
                by = top + AZ_HEAD + (slot // columns) * (box_h + BOX_GAP)
                _instance_box(ax, text, bx, by, box_h, mark_rows, instance,
                              load[instance.get("arn")], colour)

        y = top + az_h + LEGEND_GAP
        # The words start after the widest state word on the picture.
        text_column = TEXT_COLUMN if "unbalanced" in {
            state(info["services"][n])[0] for n in names} else TEXT_COLUMN_NARROW
        text(MARGIN, y, "Services: one square per task. Skew per level = most tasks minus "
             "fewest over the eligible AZs / instances.", 8.5, color="#37474f")
        for name in listed:
            y += LEGEND_ROW
            service = info["services"][name]
            _legend_row(ax, text, y, colour[name], *_service_line(name, service), text_column)
        if len(listed) < len(names):
            y += LEGEND_ROW
            rest = names[len(listed):]
            kinds = [state(info["services"][n])[0] for n in rest]
            tasks = sum(c for arn in load for n, c in load[arn] if n in set(rest))
            words = f"+{len(rest)} more services (grey squares, {_plural(tasks, 'task')})"
            if kinds.count("unbalanced"):
                off = [_short(n, 24) for n, k in zip(rest, kinds) if k == "unbalanced"]
                words += f": {len(off)} out of balance ({', '.join(off[:3])}" \
                         f"{', ...' if len(off) > 3 else ''})"
            kind = "unbalanced" if "unbalanced" in kinds else "balanced" \
                if all(k == "balanced" for k in kinds) else "skipped"
            _legend_row(ax, text, y, OTHER, kind, words, text_column)
        _fit_width(figure, ax, height)

    description = [title] + ([label] if label else []) + [verdict] + \
        table_lines({**info, "services": {n: info["services"][n] for n in names}})
    return Picture(figure, description, names, listed)


def _service_line(name: str, service: dict) -> tuple[str, str]:
    kind, words = state(service)
    total = sum(int(v) for v in (service.get("instances") or {}).values()) + \
        sum(int(v) for v in (service.get("ineligible") or {}).values())
    skew = skew_text(service)
    parts = [_short(name, MAX_NAME), _plural(total, "task"),
             f"skew {skew}" + (f" (max {service['max_skew']})" if service.get("skew")
                               and service.get("max_skew") is not None else "")]
    if kind == "unbalanced" and service.get("moves_needed"):
        parts.append(f"{_plural(int(service['moves_needed']), 'move')} needed")
    if service.get("waiting"):
        parts.append(f"{service['waiting']} waiting on draining instances")
    if kind == "skipped":
        parts.append(_short(words[len("skipped: "):], MAX_REASON))
    return kind, " · ".join(parts)


def _legend_row(ax, text, y, colour, kind, words, text_column):
    middle = y + LEGEND_ROW / 2
    ax.add_patch(Rectangle((MARGIN, middle - 0.085), 0.17, 0.17, facecolor=colour,
                           edgecolor="#333333", linewidth=0.5))
    text(MARGIN + STATE_COLUMN, middle, STATE_WORDS[kind], 9.5, weight="bold",
         color=STATE_COLOURS[kind], va="center_baseline")
    text(MARGIN + text_column, middle, words, 9.5, va="center_baseline")


def _instance_box(ax, text, x, y, h, mark_rows, instance, load, colour):
    active = instance.get("status") == "ACTIVE" and instance.get("agent_connected", True)
    ax.add_patch(Rectangle((x, y), BOX_W, h, facecolor="white" if active else "#eeeeee",
                           edgecolor="#455a64" if active else "#9e9e9e",
                           linestyle="-" if active else "--", linewidth=0.9))
    text(x + 0.1, y + 0.07, _short(instance_label(instance), MAX_INSTANCE_LABEL), 8.5, family=MONO)
    total = sum(c for _name, c in load)
    notes = [] if instance.get("status") == "ACTIVE" else [str(instance.get("status"))]
    if not instance.get("agent_connected", True):
        notes.append("agent disconnected")
    text(x + 0.1, y + 0.25, " · ".join(notes + [_plural(total, "task") if total else "no tasks"]),
         8, color="#37474f" if active else "#616161", style="normal" if active else "italic")
    capacity = mark_rows * MARKS_PER_ROW
    marks = [colour[n] for n, c in load for _task in range(c)]
    if len(marks) > capacity:
        hidden = len(marks) - (capacity - 2)
        marks = marks[:capacity - 2]
        row, col = divmod(capacity - 2, MARKS_PER_ROW)
        text(x + 0.17 + col * PITCH, y + BOX_HEAD + row * PITCH + MARK / 2, f"+{hidden}", 7.5,
             va="center", weight="bold")
    for k, mark in enumerate(marks):
        row, col = divmod(k, MARKS_PER_ROW)
        ax.add_patch(Rectangle((x + 0.17 + col * PITCH, y + BOX_HEAD + row * PITCH), MARK, MARK,
                               facecolor=mark, edgecolor="#263238", linewidth=0.4))


def _fit_width(figure, ax, height):
    """Widen the figure when a text reaches past the right margin (layout is from the left)."""
    renderer = figure.canvas.get_renderer()
    right = max((t.get_window_extent(renderer).x1 / DPI for t in ax.texts), default=0)
    width = figure.get_size_inches()[0]
    if right + MARGIN > width:
        width = math.ceil((right + MARGIN) * 10) / 10
        figure.set_size_inches(width, height)
        ax.set_xlim(0, width)
