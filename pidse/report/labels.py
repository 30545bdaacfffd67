"""Text on figures without overlaps: labels placed greedily near their dots (farther out with a leader line
when the near places are taken), a column of labels for points that share one x, and the pixel-box geometry
both use."""
from __future__ import annotations

import numpy as np


# label positions tried in order, as (dx, dy) in points, horizontal and vertical alignment
NEAR = [(7, 0, "left", "center"), (-7, 0, "right", "center"), (5, 6, "left", "bottom"),
        (5, -6, "left", "top"), (-5, 6, "right", "bottom"), (-5, -6, "right", "top")]
FAR = [(dx, dy, "left" if dx > 0 else "right", "center") for dy in (16, -16, 28, -28, 40, -40)
       for dx in (22, -22, 40, -40)]


def place_labels(fig, ax, points, dots, obstacles) -> None:
    """Label points greedily without overlaps (with each other, the dots and the front's line), front points
    first: near the dot, else farther away with a leader line. A dominated point's label that fits nowhere is
    left out; a front point's goes where it overlaps least (other labels count most)."""
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    clear = 9 * fig.dpi / 72  # a label keeps this far from other dots, so that it reads as its own dot's
    dot_boxes = {(x, y): _box(*to_px((x, y)), clear) for x, y in dots}
    taken = list(obstacles)
    frame = ax.get_window_extent(renderer)
    for x, y, text, front in points:
        others = [box for xy, box in dot_boxes.items() if xy != (x, y)]
        best = None  # (overlap score, candidate) of the least bad place, for a front label that fits nowhere
        for dx, dy, ha, va in NEAR + FAR:
            far = abs(dx) > 10
            note = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                               fontsize=8 if front else 7.5, color="#16325c" if front else "#6b7785",
                               zorder=5, arrowprops=dict(arrowstyle="-", color="#888888", lw=0.6,
                                                         shrinkA=0, shrinkB=3) if far else None)
            box = note.get_window_extent(renderer)
            box = (box.x0 - 3, box.y0 - 3, box.x1 + 3, box.y1 + 3)  # labels keep a visible gap between them
            inside = frame.x0 <= box[0] and box[2] <= frame.x1 and frame.y0 <= box[1] and box[3] <= frame.y1
            if inside and not any(_overlap(box, other) for other in taken + others):
                taken.append(box)
                break
            note.remove()
            if front:
                score = (0 if inside else 1e6) + 4 * sum(_area(box, o) for o in taken) + \
                    sum(_area(box, o) for o in others)
                if best is None or score < best[0]:
                    best = (score, (dx, dy, ha, va), box)
        else:
            if front:
                (dx, dy, ha, va), box = best[1], best[2]
                ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, fontsize=8,
                            color="#16325c", zorder=5, arrowprops=dict(arrowstyle="-", color="#888888", lw=0.6,
                                                                      shrinkA=0, shrinkB=3) if abs(dx) > 10 else None)
                taken.append(box)


def column_labels(fig, ax, points, floor=None) -> None:
    """Label points that share one x in a column to their right, each joined to its dot by a leader line:
    sorted by y and pushed apart to one line's height, kept above pixel height `floor` (the front's line) and
    inside the axes."""
    if not points:
        return
    points = sorted(points, key=lambda p: p[1])
    px = [ax.transData.transform((x, y)) for x, y, _, _ in points]
    frame = ax.get_window_extent(fig.canvas.get_renderer())
    height = 7.5 * 1.5 * fig.dpi / 72
    lo = max(frame.y0, floor if floor is not None else frame.y0) + 0.8 * height
    hi = frame.y1 - 0.6 * height
    ys = []
    for _, y in px:  # upwards from the lowest, no closer than one line
        ys.append(max(y, lo, ys[-1] + height if ys else lo))
    for i in range(len(ys) - 1, -1, -1):  # then down from the top where that ran out of room
        ys[i] = min(ys[i], hi if i == len(ys) - 1 else ys[i + 1] - height)
    dx = 26
    for (x, y, text, _), (_, y_px), y_label in zip(points, px, ys):
        ax.annotate(text, (x, y), xytext=(dx, (y_label - y_px) * 72 / fig.dpi), textcoords="offset points",
                    ha="left", va="center", fontsize=7.5, color="#6b7785", zorder=5,
                    arrowprops=dict(arrowstyle="-", color="#aaaaaa", lw=0.6, shrinkA=0, shrinkB=3))


def step_boxes(ax, sx, sy) -> list:
    """Thin pixel boxes along the front's staircase (horizontal, then down at the next point)."""
    px = ax.transData.transform(np.column_stack([sx, sy]))
    boxes = []
    for (x0, y0), (x1, y1) in zip(px[:-1], px[1:]):
        boxes.append((min(x0, x1), y0 - 1.5, max(x0, x1), y0 + 1.5))
        boxes.append((x1 - 1.5, min(y0, y1), x1 + 1.5, max(y0, y1)))
    return boxes


def _box(px, py, r):
    return (px - r, py - r, px + r, py + r)


def _area(a, b) -> float:
    """Area of the intersection of two pixel boxes (x0, y0, x1, y1)."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
