"""Seed 000's network, sigmoid and cross-entropy, built as a graph of labelled Values."""

from microgrid import Value


def seed000_graph(W0=0.7, b0=-0.2, x0=1.3, y0=0.4):
    Wv, bv, xv, yv = Value(W0, label="W"), Value(b0, label="b"), Value(x0, label="A_prev"), Value(y0, label="y")
    Zv = Wv * xv + bv
    Zv.label = "Z"
    Av = Zv.sigmoid()
    Av.label = "A"
    Lv = -yv * Av.log() - (1 - yv) * (1 - Av).log()
    Lv.label = "L"
    return Lv
