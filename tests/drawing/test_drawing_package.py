"""`microgrid.drawing`'s public names: all in `__all__`, each an attribute of the package."""


def test_every_public_name_is_in_the_drawing_package():
    names = [
        "MAX_NODES",
        "FULL_EFFORT_SIZE",
        "TIME_LIMIT",
        "Digraph",
        "GraphTooLargeError",
        "GraphvizNeededError",
        "RendererUnavailableError",
        "RenderTimeoutError",
        "RenderFailedError",
        "COLUMN_PX",
        "LEGIBLE_SCALE",
        "AUTO_LAYOUTS",
        "Drawing",
        "draw_dot",
        "laid_out",
        "choose_layout",
        "candidate_layouts",
        "fit_scale",
        "svg_width_px",
        "draw",
        "to_svg",
        "choose_renderer",
        "render_svg",
        "node_kinds",
        "layout_size",
        "COLOURS",
        "pretty_label",
        "record_text",
        "neurons",
        "typeset",
        "SCRIPT_PT",
    ]
    import microgrid.drawing as drawing

    assert set(names) <= set(drawing.__all__)
    assert all(hasattr(drawing, name) for name in names)
