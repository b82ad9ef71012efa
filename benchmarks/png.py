"""A tiny pure-Python PNG line chart (no matplotlib): log-log planning time vs tasks."""

from __future__ import annotations

import math
import struct
import zlib


def _png(width: int, height: int, pixels: list[bytearray]) -> bytes:
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def chart(series: dict[str, list[tuple[float, float]]], path: str, target: float | None = None,
          width: int = 480, height: int = 320) -> None:
    """Log-log scatter+line per series (x: tasks, y: seconds); a red dashed target line.
    Colours: first series blue, second orange, third green. Axes in grey at decades."""
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44)]
    px = [bytearray(b"\xff" * width * 3) for _ in range(height)]
    pts = [p for s in series.values() for p in s]
    xs = [math.log10(x) for x, _ in pts]
    ys = [math.log10(y) for _, y in pts] + ([math.log10(target)] if target else [])
    x0, x1 = math.floor(min(xs)), math.ceil(max(xs))
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))
    m = 30

    def to_px(lx: float, ly: float) -> tuple[int, int]:
        return (int(m + (lx - x0) / (x1 - x0) * (width - 2 * m)),
                int(height - m - (ly - y0) / (y1 - y0) * (height - 2 * m)))

    def put(x: int, y: int, c: tuple[int, int, int]) -> None:
        if 0 <= x < width and 0 <= y < height:
            px[y][3 * x:3 * x + 3] = bytes(c)

    def line(a, b, c, dash=False):
        n = max(abs(b[0] - a[0]), abs(b[1] - a[1]), 1)
        for k in range(n + 1):
            if dash and (k // 6) % 2:
                continue
            x = round(a[0] + (b[0] - a[0]) * k / n)
            y = round(a[1] + (b[1] - a[1]) * k / n)
            for dx in (0, 1):
                for dy in (0, 1):
                    put(x + dx, y + dy, c)

    grey = (200, 200, 200)
    for d in range(x0, x1 + 1):
        line(to_px(d, y0), to_px(d, y1), grey)
    for d in range(y0, y1 + 1):
        line(to_px(x0, d), to_px(x1, d), grey)
    if target:
        line(to_px(x0, math.log10(target)), to_px(x1, math.log10(target)), (214, 39, 40), True)
    for (name, pts_), colour in zip(series.items(), colours):
        prev = None
        for x, y in pts_:
            p = to_px(math.log10(x), math.log10(y))
            for dx in range(-3, 4):
                for dy in range(-3, 4):
                    put(p[0] + dx, p[1] + dy, colour)
            if prev:
                line(prev, p, colour)
            prev = p
    with open(path, "wb") as fh:
        fh.write(_png(width, height, px))
