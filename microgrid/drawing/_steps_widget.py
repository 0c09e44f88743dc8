"""The Jupyter widget of `microgrid.drawing.steps`: an anywidget whose script is inline (no CDN)."""

from .._extras import require
from ._steps_web import SCRIPT, STYLE

anywidget = require("anywidget", "widget", user="step_backward's widget")
traitlets = require("traitlets", "widget", user="step_backward's widget")  # anywidget brings it


class StepperWidget(anywidget.AnyWidget):
    """The backward pass, step by step: set ``.step`` (0 to ``.last``) to show a step from Python."""

    _esm = SCRIPT + "\nexport default { render({ model, el }) { return renderStepper(model, el); } };\n"
    _css = STYLE
    svg = traitlets.Unicode().tag(sync=True)
    data = traitlets.Unicode().tag(sync=True)
    last = traitlets.Int(0, read_only=True)
    step = traitlets.Int(0).tag(sync=True)

    def __init__(self, *, svg: str, data: str, last: int):
        super().__init__(svg=svg, data=data)
        self.set_trait("last", last)

    @traitlets.validate("step")
    def _check_step(self, proposal):
        step = proposal["value"]
        if not 0 <= step <= self.last:
            raise traitlets.TraitError(f"step_backward widget: step must be from 0 to {self.last}, got {step}")
        return step
