"""The PyTorch bridge: `to_torch` and `from_torch` against PyTorch itself.

PyTorch computes each output and gradient on its own; microgrid must agree
to 1e-12 in float64, parameter by parameter and input by input.
"""

import math
import os
import random
import subprocess
import sys
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_required import import_torch

from microgrid import MLP, Value, from_torch, to_torch
from microgrid.nn import Layer, Neuron
from microgrid.nn.optim import SGD

TOL = 1e-12
ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid"]


@pytest.fixture(scope="module")
def torch():
    return import_torch()


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


def linears(torch, net):
    return [m for m in net if isinstance(m, torch.nn.Linear)]


def assert_same_pass(torch, model, points, targets):
    """One squared-error loss through both networks, backward in both: every
    output, every parameter's gradient and every input's gradient agree."""
    net = to_torch(model)
    model.zero_grad()
    xs = [[Value(v) for v in point] for point in points]
    loss = Value(0.0)
    outs = []
    for x, t in zip(xs, targets, strict=True):
        out = model(x)
        out = out if isinstance(out, list) else [out]
        outs.append(out)
        for o, tj in zip(out, t, strict=True):
            loss = loss + (o - tj) ** 2
    loss.backward()

    tx = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    tout = net(tx)
    tloss = ((tout - torch.tensor(targets, dtype=torch.float64)) ** 2).sum()
    tloss.backward()

    assert close(loss.data, tloss.item())
    for i, out in enumerate(outs):
        assert all(close(o.data, tout[i, j].item()) for j, o in enumerate(out))
        assert all(close(x.grad, tx.grad[i, k].item()) for k, x in enumerate(xs[i]))
    layers = model.layers if isinstance(model, MLP) else [model] if isinstance(model, Layer) else None
    neurons_by_layer = [[model]] if layers is None else [layer.neurons for layer in layers]
    checked = 0
    for neurons, linear in zip(neurons_by_layer, linears(torch, net), strict=True):
        for j, n in enumerate(neurons):
            for k, w in enumerate(n.w):
                assert close(w.grad, linear.weight.grad[j, k].item()), (j, k)
                checked += 1
            assert close(n.b.grad, linear.bias.grad[j].item()), j
            checked += 1
    assert checked == len(model.parameters())


def random_batch(rng, nin, nout, n=5):
    points = [[rng.uniform(-2, 2) for _ in range(nin)] for _ in range(n)]
    targets = [[rng.uniform(-1, 1) for _ in range(nout)] for _ in range(n)]
    return points, targets


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("output_activation", ACTIVATIONS)
@pytest.mark.parametrize("nouts", [[1], [3, 1], [4, 3, 2], [5, 4, 4, 3, 1]])
def test_outputs_and_every_gradient_match(torch, activation, output_activation, nouts):
    model = MLP(3, nouts, activation, output_activation, seed=len(nouts))
    rng = random.Random(7)
    for n in model.layers[0].neurons:  # nonzero biases, so that they count in the outputs
        n.b.data = rng.uniform(-0.5, 0.5)
    assert_same_pass(torch, model, *random_batch(rng, 3, nouts[-1]))


@settings(max_examples=40, deadline=None)
@given(
    nin=st.integers(1, 4),
    nouts=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    activation=st.sampled_from(ACTIVATIONS),
    output_activation=st.sampled_from(ACTIVATIONS),
    seed=st.integers(0, 2**32 - 1),
)
def test_outputs_and_every_gradient_match_on_random_networks(torch, nin, nouts, activation, output_activation, seed):
    model = MLP(nin, nouts, activation, output_activation, seed=seed)
    rng = random.Random(seed)
    for p in model.parameters():
        p.data = rng.uniform(-1.5, 1.5)
    assert_same_pass(torch, model, *random_batch(rng, nin, nouts[-1], n=3))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_a_layer_and_a_neuron_convert_too(torch, activation):
    rng = random.Random(3)
    assert_same_pass(torch, Layer(2, 3, activation, seed=1), *random_batch(rng, 2, 3))
    assert_same_pass(torch, Neuron(4, activation, seed=2), *random_batch(rng, 4, 1))


def test_the_torch_modules_are_float64_linear_layers_and_the_activations(torch):
    net = to_torch(MLP(2, [3, 3, 1], "sigmoid", "tanh", seed=0))
    assert [type(m).__name__ for m in net] == ["Linear", "Sigmoid", "Linear", "Sigmoid", "Linear", "Tanh"]
    assert all(p.dtype == torch.float64 and p.requires_grad for p in net.parameters())
    assert [type(m).__name__ for m in to_torch(MLP(2, [3, 1], "linear", seed=0))] == ["Linear", "Linear"]


def test_training_side_by_side_stays_equal(torch):
    model = MLP(2, [8, 8, 1], "relu", seed=1337)
    net = to_torch(model)
    points, targets = random_batch(random.Random(0), 2, 1, n=10)
    ours, theirs = (
        SGD(model.parameters(), lr=0.05, momentum=0.9),
        torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9),
    )
    for _ in range(20):
        ours.zero_grad()
        loss = sum(((model(x) - t[0]) ** 2 for x, t in zip(points, targets, strict=True)), Value(0.0))
        loss.backward()
        ours.step()
        theirs.zero_grad()
        tloss = (
            (net(torch.tensor(points, dtype=torch.float64)) - torch.tensor(targets, dtype=torch.float64)) ** 2
        ).sum()
        tloss.backward()
        theirs.step()
        assert close(loss.data, tloss.item())
    assert all(
        close(a, b) for a, b in zip(from_torch(net).state_dict().values(), model.state_dict().values(), strict=True)
    )


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("output_activation", ACTIVATIONS)
def test_the_round_trip_gives_the_same_model(torch, activation, output_activation):
    model = MLP(3, [4, 2, 2], activation, output_activation, seed=5)
    back = from_torch(to_torch(model))
    assert back is not model
    assert repr(back) == repr(model)
    assert back.state_dict() == model.state_dict()  # exactly: float64 both ways


def test_a_torch_network_reads_in_exactly(torch):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 5), torch.nn.ReLU(inplace=True), torch.nn.Linear(5, 1), torch.nn.Identity()
    )
    model = from_torch(net)  # float32 weights: each is a float64 exactly
    assert repr(model) == "MLP(2, [5, 1], activation='relu', output_activation='linear')"
    again = to_torch(model)
    for a, b in zip(net.parameters(), again.parameters(), strict=True):
        assert torch.equal(a.detach().double(), b.detach())
    assert math.isclose(model([0.5, -0.25]).data, net(torch.tensor([0.5, -0.25])).item(), rel_tol=1e-6)


def test_the_copies_are_independent_and_torch_random_state_is_untouched(torch):
    model = MLP(2, [2, 1], seed=0)
    state = torch.random.get_rng_state()
    net = to_torch(model)
    assert torch.equal(state, torch.random.get_rng_state())
    before = model.state_dict()
    with torch.no_grad():
        net[0].weight.add_(1.0)
    assert model.state_dict() == before
    back = from_torch(net)
    back.parameters()[0].data = 42.0
    assert net[0].weight[0, 0].item() != 42.0


# -------------------------------------------------------------------- errors
def test_to_torch_refuses_what_is_not_a_microgrid_model(torch):
    with pytest.raises(TypeError, match=r"to_torch: expected a microgrid MLP, Layer or Neuron, got list"):
        to_torch([1.0, 2.0])


def refused(torch):
    nn = torch.nn

    class MyReLU(nn.ReLU):
        def forward(self, x):
            return x

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "Initializing zero-element tensors is a no-op"
        empty = nn.Linear(2, 0)
    return [
        (nn.Linear(2, 3), TypeError, r"expected a torch.nn.Sequential, got Linear"),
        (nn.Sequential(), ValueError, r"holds no Linear layer"),
        (nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU()), ValueError, r"module 1 \(LeakyReLU\) has no counterpart"),
        (nn.Sequential(nn.Linear(2, 3), nn.Dropout()), ValueError, r"module 1 \(Dropout\) has no counterpart"),
        (nn.Sequential(nn.Sequential(nn.Linear(2, 3))), ValueError, r"module 0 \(Sequential\) has no counterpart"),
        (nn.Sequential(nn.Linear(2, 3), MyReLU()), ValueError, r"module 1 \(MyReLU\) has no counterpart"),
        (nn.Sequential(nn.Tanh(), nn.Linear(2, 3)), ValueError, r"module 0 \(Tanh\) does not follow a Linear"),
        (nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Tanh()), ValueError, r"module 2 \(Tanh\) does not follow"),
        (nn.Sequential(nn.Linear(2, 3, bias=False)), ValueError, r"module 0 \(Linear\) has no bias"),
        (
            nn.Sequential(nn.Linear(2, 3), nn.Linear(4, 1)),
            ValueError,
            r"module 1 \(Linear\) reads 4 inputs, but the layer before it gives 3",
        ),
        (nn.Sequential(empty), ValueError, r"module 0 \(Linear\) maps 2 inputs to 0 outputs"),
        (
            nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)),
            ValueError,
            r"hidden layers share one activation, but these differ: relu after the Linear of module 0, tanh after",
        ),
        (
            nn.Sequential(nn.Linear(2, 3, dtype=torch.complex128)),
            ValueError,
            r"weight of module 0 must hold real floating-point numbers, got torch.complex128",
        ),
        (nn.Sequential(nn.Linear(2, 3, device="meta")), ValueError, r"weight of module 0 is on the meta device"),
    ]


def test_from_torch_names_each_problem(torch):
    for net, error, message in refused(torch):
        with pytest.raises(error, match=message) as info:
            from_torch(net)
        assert str(info.value).startswith("from_torch: ")


def _with(torch, linear, **parameters):
    """`linear` with some parameters replaced, as a user's assignment ``linear.bias = Parameter(...)`` does."""
    for name, shape in parameters.items():
        setattr(linear, name, torch.nn.Parameter(torch.zeros(*shape)))
    return linear


def test_from_torch_refuses_parameters_whose_shapes_disagree_with_the_layer(torch):
    nn = torch.nn
    cases = [
        # not truncated by zip() to three neurons, the fourth bias dropped
        (
            _with(torch, nn.Linear(2, 3), bias=(4,)),
            r"module 0 \(Linear\) has a bias of shape \(4,\), but its 3 outputs need shape \(3,\)",
        ),
        (
            _with(torch, nn.Linear(2, 3), bias=(2,)),
            r"module 0 \(Linear\) has a bias of shape \(2,\), but its 3 outputs need shape \(3,\)",
        ),
        (
            _with(torch, nn.Linear(2, 3), bias=(3, 1)),
            r"module 0 \(Linear\) has a bias of shape \(3, 1\), but its 3 outputs need shape \(3,\)",
        ),
        (
            _with(torch, nn.Linear(2, 3), weight=(3, 5)),
            r"module 0 \(Linear\) has a weight of shape \(3, 5\), "
            r"but in_features=2 and out_features=3 need shape \(3, 2\)",
        ),
        (
            _with(torch, nn.Linear(2, 3), weight=(6,)),
            r"module 0 \(Linear\) has a weight of shape \(6,\), "
            r"but in_features=2 and out_features=3 need shape \(3, 2\)",
        ),
        (
            _with(torch, nn.Linear(2, 3), weight=(3, 2, 1)),
            r"module 0 \(Linear\) has a weight of shape \(3, 2, 1\), but",
        ),
    ]
    for linear, message in cases:
        net = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), linear)  # the layer named by its place
        with pytest.raises(ValueError, match="^from_torch: " + message.replace("module 0", "module 2")):
            from_torch(net)


def test_from_torch_refuses_a_sequential_that_computes_something_else(torch):
    """A subclass's own forward (or a hook) changes what the network computes; torch's
    output is the reference: microgrid must not build a model that disagrees with it."""
    nn = torch.nn

    class Negated(nn.Sequential):
        def forward(self, x):
            return -super().forward(x)

    class Called(nn.Sequential):
        def __call__(self, x):
            return 2 * super().__call__(x)

    class Named(nn.Sequential):  # a subclass that changes nothing it computes is welcome
        pass

    x = [0.5, -1.0]
    negated = Negated(nn.Linear(2, 1, dtype=torch.float64))
    assert negated(torch.tensor(x, dtype=torch.float64)).item() != MLP(2, [1], seed=0).predict(x)  # torch's own answer
    with pytest.raises(
        ValueError,
        match=(
            r"^from_torch: Negated, a Sequential subclass, defines its own forward, "
            r"which an MLP cannot represent; .*torch\.nn\.Sequential"
        ),
    ):
        from_torch(negated)
    with pytest.raises(ValueError, match=r"^from_torch: Called, a Sequential subclass, defines its own __call__"):
        from_torch(Called(nn.Linear(2, 1)))
    named = Named(nn.Linear(2, 1, dtype=torch.float64), nn.Sigmoid())
    assert close(from_torch(named).predict(x), named(torch.tensor(x, dtype=torch.float64)).item())

    for hook in (
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
    ):
        for where, place in (("the Sequential", None), ("module 1 \\(ReLU\\)", 1)):
            net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
            target = net if place is None else net[place]
            handle = getattr(target, hook)(lambda *args: None)
            kind = hook.removeprefix("register_").removeprefix("full_").replace("_", " ")
            with pytest.raises(
                ValueError, match=rf"^from_torch: {where} has a {kind}, which may change what it computes"
            ):
                from_torch(net)
            handle.remove()
            assert from_torch(net).nouts == [3, 1]  # the same network without the hook converts


def test_from_torch_refuses_while_a_global_module_hook_is_registered(torch):
    net = torch.nn.Sequential(torch.nn.Linear(2, 1))
    handle = torch.nn.modules.module.register_module_forward_hook(lambda module, args, out: out * 2)
    try:
        with pytest.raises(ValueError, match=r"^from_torch: a global module forward hook is registered"):
            from_torch(net)
    finally:
        handle.remove()
    assert from_torch(net).nouts == [1]


def test_to_torch_refuses_a_model_that_computes_its_own_way(torch):
    class Doubled(MLP):
        def __call__(self, x):
            out = super().__call__(x)
            return out * 2

    class Shifted(Neuron):
        def _fire(self, xs):
            return super()._fire(xs) + 1

    with pytest.raises(
        TypeError, match=r"^to_torch: Doubled defines its own __call__, so what it computes is not its layers'"
    ):
        to_torch(Doubled(2, [1], seed=0))
    layer = Layer(2, 2, seed=0)
    layer.neurons[1] = Shifted(2, seed=0, index=1)
    with pytest.raises(TypeError, match=r"^to_torch: Shifted defines its own _fire"):
        to_torch(layer)
    plain = type("MyMLP", (MLP,), {})(2, [3, 1], seed=0)  # a subclass that computes as an MLP converts
    assert close(to_torch(plain)(torch.tensor([0.5, -1.0], dtype=torch.float64)).item(), plain([0.5, -1.0]).data)


def test_from_torch_refuses_weights_that_are_not_finite(torch):
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    with torch.no_grad():
        net[1].bias[0] = float("nan")
        net[0].weight[1, 1] = float("inf")
    with pytest.raises(ValueError, match=r"from_torch: the weight of module 0 holds 1 values that are not finite"):
        from_torch(net)
    with torch.no_grad():
        net[0].weight[1, 1] = 0.0
    with pytest.raises(ValueError, match=r"from_torch: the bias of module 1 holds 1 values that are not finite"):
        from_torch(net)


# ------------------------------------------------------------ without torch
def test_without_torch_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails as if it were not installed
    with pytest.raises(
        ModuleNotFoundError, match=r'to_torch needs torch, which is not installed: pip install "microgrid\[torch\]"'
    ):
        to_torch(MLP(1, [1], seed=0))
    with pytest.raises(
        ModuleNotFoundError, match=r'from_torch needs torch, which is not installed: pip install "microgrid\[torch\]"'
    ):
        from_torch(object())


def test_importing_microgrid_never_imports_torch():
    code = (
        "import sys, microgrid\n"
        "from microgrid import *\n"
        "microgrid.to_torch, microgrid.MLP(2, [1], seed=0)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
