"""Graphs as pictures, backward step by step; modules import only those before them in `_NAMES`, loaded on first use."""

import importlib
from typing import Any

_NAMES = {
    "explain": "BackwardStep BackwardExplanation explain_backward display_names",
    "render": "TIME_LIMIT choose_renderer render_svg RendererUnavailableError RenderFailedError RenderTimeoutError",
    "dot": "Digraph GraphvizNeededError MAX_NODES FULL_EFFORT_SIZE COLOURS GraphTooLargeError draw_dot node_kinds "
    "layout_size pretty_label record_text neurons typeset SCRIPT_PT",
    "display": "Drawing draw laid_out to_svg COLUMN_PX LEGIBLE_SCALE AUTO_LAYOUTS svg_width_px fit_scale "
    "candidate_layouts choose_layout",
    "steps": "BackwardStepper step_backward",
}
_WHERE = {name: module for module, names in _NAMES.items() for name in names.split()}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value  # once: later reads do not come back here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
