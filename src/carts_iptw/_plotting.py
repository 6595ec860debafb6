"""Shared argument handling of the public plot functions: ``labels``, ``palette``, ``ax``.

Every public plot function takes ``labels`` (display names of its groups), ``palette`` (their
colours) and ``ax`` (draw into the caller's matplotlib Axes and return it instead of a new
Figure). The checks live here once so that each function words its errors alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.colors import is_color_like


def resolve_labels(keys: Sequence[str], labels, what: str = "labels") -> list[str]:
    """Display labels for ``keys``: None keeps them, a dict maps some, a sequence gives all.

    A dict may name only some keys (the rest keep their own name); a sequence must have one
    label per key, in order.
    """
    keys = [str(k) for k in keys]
    if labels is None:
        return keys
    if isinstance(labels, Mapping):
        unknown = [k for k in labels if str(k) not in keys]
        if unknown:
            raise ValueError(f"{what}: {len(unknown)} key(s) name no group of the plot; "
                             f"expected some of {len(keys)} group name(s)")
        return [str(labels.get(k, k)) for k in keys]
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise TypeError(f"{what} must be a dict or a list of strings")
    if len(labels) != len(keys):
        raise ValueError(f"{what} has {len(labels)} entries for {len(keys)} group(s)")
    return [str(v) for v in labels]


def resolve_palette(keys: Sequence[str], palette, default: Sequence[str],
                    what: str = "palette") -> list[str]:
    """Colours for ``keys``: None uses ``default`` (cycled); one colour, a dict or a list."""
    keys = [str(k) for k in keys]
    if palette is None:
        return [default[i % len(default)] for i in range(len(keys))]
    if isinstance(palette, str) or isinstance(palette, tuple) and is_color_like(palette):
        if not is_color_like(palette):
            raise ValueError(f"{what}: not a matplotlib colour")
        return [palette] * len(keys)
    if isinstance(palette, Mapping):
        unknown = [k for k in palette if str(k) not in keys]
        if unknown:
            raise ValueError(f"{what}: {len(unknown)} key(s) name no group of the plot")
        out = [palette.get(k, default[i % len(default)]) for i, k in enumerate(keys)]
    elif isinstance(palette, Sequence):
        if len(palette) < len(keys):
            raise ValueError(f"{what} has {len(palette)} colour(s) for {len(keys)} group(s)")
        out = list(palette[: len(keys)])
    else:
        raise TypeError(f"{what} must be a colour, a dict or a list of colours")
    bad = sum(not is_color_like(c) for c in out)
    if bad:
        raise ValueError(f"{what}: {bad} entr(y/ies) are not matplotlib colours")
    return out


def check_ax(ax, what: str = "ax") -> Axes | None:
    """``ax`` must be None or a matplotlib Axes."""
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"{what} must be a matplotlib Axes (e.g. from plt.subplots()) or None")
    return ax
