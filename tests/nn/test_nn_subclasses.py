"""Users' own Module subclasses: a state under names must hold every parameter once,
or it would lose or mix up values; save says plainly what it cannot do."""

from __future__ import annotations

import json

import pytest

from microgrid.nn import MLP, Module


class MicrogradStyle(Module):
    """micrograd's way: parameters() only, no names."""

    def __init__(self, seed=0):
        self.first, self.second = MLP(2, [3, 1], seed=seed), MLP(2, [3, 1], seed=seed + 1)

    def parameters(self):
        return self.first.parameters() + self.second.parameters()


class Unprefixed(MicrogradStyle):
    """Names, but the two parts' textbook names collide."""

    def named_parameters(self):
        yield from self.first.named_parameters()
        yield from self.second.named_parameters()

    parameters = Module.parameters


class Prefixed(MicrogradStyle):
    def named_parameters(self):
        for part in ("first", "second"):
            for name, p in getattr(self, part).named_parameters():
                yield f"{part}.{name}", p

    parameters = Module.parameters


class HalfNamed(MicrogradStyle):
    """parameters() has both parts, named_parameters() only the first."""

    def named_parameters(self):
        return self.first.named_parameters()


def _values(model):
    return [p.data for p in model.parameters()]


def test_parameters_alone_give_no_state_rather_than_an_empty_one():
    net = MicrogradStyle()
    assert len(net.parameters()) == 2 * 13  # (2 + 1) * 3 + (3 + 1) * 1 per MLP
    message = (
        r"MicrogradStyle.state_dict: MicrogradStyle defines parameters\(\) \(26 Values\) but not named_parameters\(\)"
    )
    with pytest.raises(NotImplementedError, match=message):
        net.state_dict()
    before = _values(net)
    with pytest.raises(NotImplementedError, match=r"MicrogradStyle.load_state_dict: .* not named_parameters\(\)"):
        net.load_state_dict({})  # not "nothing to load" for a model of 26 parameters
    assert _values(net) == before
    net.zero_grad()  # what needs no names still works


def test_repeated_names_are_refused_not_merged():
    net = Unprefixed()
    message = (
        r"Unprefixed\.state_dict: .* gives the name 'w\^\(1\)_0,0' to two parameters "
        r"\(26 parameters, 13 distinct names\)"
    )
    with pytest.raises(ValueError, match=message):
        net.state_dict()  # not 13 entries for 26 parameters, the second part's values only
    before = _values(net)
    with pytest.raises(ValueError, match="to two parameters"):
        net.load_state_dict(net.first.state_dict())  # not both parts set from the one state
    assert _values(net) == before


def test_named_and_listed_parameters_must_agree():
    with pytest.raises(
        ValueError, match=r"named_parameters\(\) \(13 Values\) and parameters\(\) \(26 Values\) do not give the same"
    ):
        HalfNamed().state_dict()


def test_prefixed_names_round_trip_every_parameter():
    a, b = Prefixed(seed=0), Prefixed(seed=5)
    state = a.state_dict()
    assert len(state) == 26
    assert list(state)[:3] == ["first.w^(1)_0,0", "first.w^(1)_0,1", "first.b^(1)_0"]
    assert list(state)[13] == "second.w^(1)_0,0"
    # the values by position: the first part's then the second's, each in micrograd's order
    assert list(state.values()) == _values(a.first) + _values(a.second)
    b.load_state_dict(json.loads(json.dumps(state)))
    assert _values(b) == _values(a)


@pytest.mark.parametrize("make", [MicrogradStyle, Prefixed, lambda: type("MyMLP", (MLP,), {})(2, [1], seed=0)])
def test_save_says_what_it_cannot_save_and_writes_nothing(tmp_path, make):
    model = make()
    name = type(model).__name__
    with pytest.raises(NotImplementedError) as info:
        model.save(tmp_path / "model.json")
    message = str(info.value)
    assert message.startswith(f"save: a model file holds a Neuron, Layer, MLP, not a {name}")
    assert "state_dict()" in message and "load_state_dict" in message
    assert list(tmp_path.iterdir()) == []
