"""Fast tests of the reference network: layers, losses, network, optimizers, training."""

from __future__ import annotations

import dataclasses
import types
import warnings

import numpy as np
import pytest

from bnspec.reference import batchnorm, layers, losses, network, optimizers, training
from bnspec.reference.network import LayerSpec, NetworkSpec

# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def make_spec(hidden="tanh", hidden_bn=True, output="sigmoid", n_out=1, output_bn=False):
    return NetworkSpec(
        n_x=3,
        layers=(
            LayerSpec(4, hidden, hidden_bn),
            LayerSpec(3, hidden, not hidden_bn),
            LayerSpec(n_out, output, output_bn),
        ),
    )


def make_labels(rng, output, n_out, m):
    if output == "sigmoid":
        return (rng.random((n_out, m)) < 0.5).astype(np.float64)
    if output == "softmax":
        return np.eye(n_out)[:, rng.integers(0, n_out, m)]
    return rng.standard_normal((n_out, m))


def perturbed(params, key, idx, delta):
    p = params[key].copy()
    p[idx] += delta
    return {**params, key: p}


def numerical_grads(spec, params, X, Y, h=1e-6):
    """Central differences of the mean loss, one parameter entry at a time."""

    def loss(ps):
        Z_L, _ = network.forward(spec, ps, X)
        return losses.loss_and_grad(spec.layers[-1].activation, Z_L, Y)[0]

    grads = {}
    for key, p in params.items():
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            plus, minus = perturbed(params, key, idx, h), perturbed(params, key, idx, -h)
            g[idx] = (loss(plus) - loss(minus)) / (2 * h)
        grads[f"d{key}"] = g
    return grads


def assert_grads_close(analytic, numeric):
    assert analytic.keys() == numeric.keys()
    a = np.concatenate([analytic[k].ravel() for k in analytic])
    n = np.concatenate([numeric[k].ravel() for k in analytic])
    rel = np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n))
    assert rel < 1e-7, rel
    for key in analytic:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-5, atol=1e-8, err_msg=key)


def snapshot(*values):
    """Deep copies of dicts/arrays, to check later that nothing was modified."""
    return [
        {k: v.copy() for k, v in x.items()} if isinstance(x, dict) else x.copy() for x in values
    ]


def assert_unchanged(values, copies):
    for value, copy in zip(values, copies, strict=True):
        if isinstance(value, dict):
            assert value.keys() == copy.keys()
            for k in value:
                np.testing.assert_array_equal(value[k], copy[k])
        else:
            np.testing.assert_array_equal(value, copy)


# --------------------------------------------------------------------------
# Parameters and shapes (L2, L10, L11)
# --------------------------------------------------------------------------


def test_init_params_keys_and_shapes():
    spec = make_spec(hidden_bn=True)  # layer 1 with BN, layer 2 without, output without
    params = network.init_params(spec, np.random.default_rng(0))
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (4, 3), "gamma1": (4, 1), "beta1": (4, 1),
        "W2": (3, 4), "b2": (3, 1),
        "W3": (1, 3), "b3": (1, 1),
    }  # fmt: skip
    assert all(v.dtype == np.float64 for v in params.values())
    np.testing.assert_array_equal(params["gamma1"], 1.0)
    np.testing.assert_array_equal(params["beta1"], 0.0)
    np.testing.assert_array_equal(params["b3"], 0.0)
    again = network.init_params(spec, np.random.default_rng(0))
    np.testing.assert_array_equal(params["W1"], again["W1"])


def test_init_scales():
    spec = NetworkSpec(n_x=400, layers=(LayerSpec(300, "identity"),))
    for init, c in (("he", 2.0), ("xavier", 1.0)):
        W = network.init_params(spec, np.random.default_rng(1), init)["W1"]
        assert abs(W.var() - c / 400) < 0.05 * c / 400


def test_running_init():
    spec = make_spec(hidden_bn=False, output_bn=True)  # BN in layers 2 and 3
    running = network.init_running(spec)
    assert sorted(running) == ["running_mean2", "running_mean3", "running_var2", "running_var3"]
    np.testing.assert_array_equal(running["running_mean2"], np.zeros((3, 1)))
    np.testing.assert_array_equal(running["running_var3"], np.ones((1, 1)))


def test_grads_have_the_params_keys_no_db_with_bn():
    spec = make_spec(hidden_bn=True)
    rng = np.random.default_rng(2)
    params = network.init_params(spec, rng)
    X, Y = rng.standard_normal((3, 5)), make_labels(rng, "sigmoid", 1, 5)
    loss, grads, _ = network.loss_and_grads(spec, params, X, Y)
    assert isinstance(loss, float)
    assert list(grads) == [f"d{k}" for k in params]
    assert "db1" not in grads and "dgamma1" in grads and "db3" in grads
    assert all(grads[f"d{k}"].shape == p.shape for k, p in params.items())


# --------------------------------------------------------------------------
# Gradients against central finite differences
# --------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", sorted(layers.ACTIVATIONS))
@pytest.mark.parametrize("hidden_bn", [False, True])
def test_network_gradients_each_activation(hidden, hidden_bn):
    spec = make_spec(hidden, hidden_bn)
    rng = np.random.default_rng(3)
    params = network.init_params(spec, rng, "xavier")
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}
    X, Y = rng.standard_normal((3, 6)), make_labels(rng, "sigmoid", 1, 6)
    _, grads, _ = network.loss_and_grads(spec, params, X, Y)
    assert_grads_close(grads, numerical_grads(spec, params, X, Y))


@pytest.mark.parametrize(
    ("output", "n_out"), [("sigmoid", 1), ("sigmoid", 2), ("softmax", 3), ("identity", 2)]
)
@pytest.mark.parametrize("output_bn", [False, True])
def test_network_gradients_each_output(output, n_out, output_bn):
    spec = make_spec("leaky_relu", True, output, n_out, output_bn)
    rng = np.random.default_rng(4)
    params = network.init_params(spec, rng)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}
    X, Y = rng.standard_normal((3, 7)), make_labels(rng, output, n_out, 7)
    _, grads, _ = network.loss_and_grads(spec, params, X, Y)
    assert_grads_close(grads, numerical_grads(spec, params, X, Y))


@pytest.mark.parametrize("name", losses.OUTPUTS)
def test_loss_gradient_and_stability(name):
    rng = np.random.default_rng(5)
    Z = 3 * rng.standard_normal((3, 4))
    Y = make_labels(rng, name, 3, 4)
    loss, dZ = losses.loss_and_grad(name, Z, Y)
    h, numeric = 1e-6, np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        up, down = Z.copy(), Z.copy()
        up[idx] += h
        down[idx] -= h
        diff = losses.loss_and_grad(name, up, Y)[0] - losses.loss_and_grad(name, down, Y)[0]
        numeric[idx] = diff / (2 * h)
    np.testing.assert_allclose(dZ, numeric, rtol=1e-6, atol=1e-9)
    A = losses.output_activation(name, Z)
    np.testing.assert_allclose(dZ, (A - Y) / 4, rtol=1e-12, atol=1e-15)  # fused gradient
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big_loss, big_dZ = losses.loss_and_grad(name, 1e4 * np.sign(Z), Y)
        assert np.isfinite(big_loss) and np.isfinite(big_dZ).all()
        assert np.isfinite(losses.output_activation(name, 1e4 * Z)).all()


def test_mse_scaling_and_softmax_sums_to_one():
    Z, Y = np.array([[1.0, 3.0]]), np.array([[0.0, 1.0]])
    assert losses.loss_and_grad("identity", Z, Y)[0] == pytest.approx((1 + 4) / (2 * 2))
    A = losses.output_activation("softmax", np.array([[1000.0, 0.0], [1001.0, 0.0]]))
    np.testing.assert_allclose(A.sum(axis=0), 1.0)


@pytest.mark.parametrize("name", sorted(layers.ACTIVATIONS))
def test_activation_backward_is_the_derivative(name):
    act = layers.activation(name)
    Z = np.array([[-2.0, -0.3, 0.4, 1.7]])
    h = 1e-6
    numeric = (act.forward(Z + h) - act.forward(Z - h)) / (2 * h)
    np.testing.assert_allclose(act.backward(Z, np.ones_like(Z)), numeric, rtol=1e-7, atol=1e-9)


def test_sigmoid_stable_for_large_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = layers.sigmoid(np.array([[-1e5, -700.0, 0.0, 700.0, 1e5]]))
    assert s[0, 0] == 0.0 and 0.0 < s[0, 1] < 1e-300 and s[0, 2] == 0.5 and s[0, 4] == 1.0


def test_dense_and_backward_shapes():
    rng = np.random.default_rng(6)
    W, A, b, dZ = (rng.standard_normal(s) for s in ((4, 3), (3, 5), (4, 1), (4, 5)))
    np.testing.assert_allclose(layers.dense(W, A, b), W @ A + b)
    dW, dA, db = layers.dense_backward(dZ, W, A, True)
    assert (dW.shape, dA.shape, db.shape) == ((4, 3), (3, 5), (4, 1))
    assert layers.dense_backward(dZ, W, A, False)[2] is None


# --------------------------------------------------------------------------
# The bias before BN cancels (L7)
# --------------------------------------------------------------------------


def test_bias_before_bn_changes_nothing_and_gets_zero_gradient():
    spec = make_spec("relu", True)
    rng = np.random.default_rng(7)
    params = network.init_params(spec, rng)
    X, Y = rng.standard_normal((3, 8)), make_labels(rng, "sigmoid", 1, 8)
    with_b = {**params, "b1": 5.0 * rng.standard_normal((4, 1))}
    Z_without, _ = network.forward(spec, params, X)
    Z_with, _ = network.forward(spec, with_b, X)
    np.testing.assert_allclose(Z_with, Z_without, rtol=1e-10, atol=1e-12)
    _, grads, _ = network.loss_and_grads(spec, with_b, X, Y)
    _, grads_without, _ = network.loss_and_grads(spec, params, X, Y)
    np.testing.assert_allclose(grads["db1"], 0.0, atol=1e-12)
    for key in grads_without:
        np.testing.assert_allclose(grads[key], grads_without[key], rtol=1e-8, atol=1e-12)


# --------------------------------------------------------------------------
# Optimizers (L3, L4)
# --------------------------------------------------------------------------

P = {"W1": np.array([[1.0, -2.0]]), "gamma1": np.array([[0.5]]), "beta1": np.array([[0.0]])}
G = {"dW1": np.array([[0.5, -1.0]]), "dgamma1": np.array([[2.0]]), "dbeta1": np.array([[-0.1]])}


def hand_step(name, p, d, t=1):
    """The course's formulas for the first step, v = s = 0 before it."""
    lr = 0.1
    if name == "gd":
        return p - lr * d
    if name == "momentum":
        return p - lr * (0.1 * d)
    if name == "rmsprop":
        return p - lr * d / (np.sqrt(0.1 * d**2) + 1e-8)
    v_hat, s_hat = 0.1 * d / (1 - 0.9**t), 0.001 * d**2 / (1 - 0.999**t)
    return p - lr * v_hat / (np.sqrt(s_hat) + 1e-8)


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_optimizer_one_step_matches_hand_formulas(name):
    opt = optimizers.OPTIMIZERS[name](0.1)
    state = opt.init(P)
    copies = snapshot(P, G)
    new, new_state = opt.step(P, G, state)
    assert_unchanged([P, G], copies)
    assert new.keys() == P.keys()
    for key in P:  # every parameter, W, gamma and beta alike (L4)
        np.testing.assert_allclose(new[key], hand_step(name, P[key], G[f"d{key}"]), rtol=1e-14)
    assert new_state is not state
    if name == "adam":
        assert new_state["t"] == 1 and state["t"] == 0


def test_adam_second_step_bias_correction():
    opt = optimizers.Adam(0.1)
    p1, state = opt.step(P, G, opt.init(P))
    p2, state = opt.step(p1, G, state)
    d = G["dW1"]
    v, s = 0.9 * 0.1 * d + 0.1 * d, 0.999 * 0.001 * d**2 + 0.001 * d**2
    v_hat, s_hat = v / (1 - 0.9**2), s / (1 - 0.999**2)
    np.testing.assert_allclose(p2["W1"], p1["W1"] - 0.1 * v_hat / (np.sqrt(s_hat) + 1e-8))
    assert state["t"] == 2


def test_no_optimizer_hyperparameter_is_named_beta():
    for cls in optimizers.OPTIMIZERS.values():
        assert "beta" not in {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize(
    ("make", "error", "prefix"),
    [
        (lambda: optimizers.GradientDescent(0.0), ValueError, "lr:"),
        (lambda: optimizers.GradientDescent("1"), TypeError, "lr:"),
        (lambda: optimizers.Momentum(0.1, momentum=1.0), ValueError, "momentum:"),
        (lambda: optimizers.RMSprop(0.1, rho=-0.1), ValueError, "rho:"),
        (lambda: optimizers.RMSprop(0.1, eps=0.0), ValueError, "eps:"),
        (lambda: optimizers.Adam(0.1, beta1=1.0), ValueError, "beta1:"),
        (lambda: optimizers.Adam(0.1, beta2=np.nan), ValueError, "beta2:"),
    ],
)
def test_optimizer_hyperparameters_are_validated(make, error, prefix):
    with pytest.raises(error, match=f"^{prefix}"):
        make()


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_optimizer_missing_or_bad_gradient(name):
    opt = optimizers.OPTIMIZERS[name](0.1)
    state = opt.init(P)
    with pytest.raises(ValueError, match=r"^grads: missing 'dgamma1'.*'gamma1'"):
        opt.step(P, {k: v for k, v in G.items() if k != "dgamma1"}, state)
    with pytest.raises(ValueError, match=r"^grads\['dW1'\]"):
        opt.step(P, {**G, "dW1": np.ones((2, 1))}, state)
    with pytest.raises(ValueError, match=r"^grads: 'dfoo'"):
        opt.step(P, {**G, "dfoo": np.ones((1, 1))}, state)


# --------------------------------------------------------------------------
# Mini-batches and training (L6, L11)
# --------------------------------------------------------------------------


def test_minibatches_cover_every_example_once():
    X = np.arange(20.0).reshape(2, 10)
    Y = np.arange(10.0)[None, :]
    copies = snapshot(X, Y)
    batches = training.minibatches(X, Y, 4, np.random.default_rng(8))
    assert_unchanged([X, Y], copies)
    assert [Yt.shape[1] for _, Yt in batches] == [4, 4, 2]
    seen = np.concatenate([Yt[0] for _, Yt in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(10.0))
    assert not np.array_equal(seen, np.arange(10.0))  # shuffled
    for Xt, Yt in batches:  # columns stay paired
        np.testing.assert_array_equal(Xt[0], Yt[0])
    again = training.minibatches(X, Y, 4, np.random.default_rng(8))
    np.testing.assert_array_equal(np.concatenate([Yt[0] for _, Yt in again]), seen)


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_training_lowers_the_loss(name):
    rng = np.random.default_rng(9)
    X, Y = training.separable_data(rng, n_x=2, m=64)
    spec = NetworkSpec(2, (LayerSpec(4, "relu", True), LayerSpec(1, "sigmoid")))
    params = network.init_params(spec, rng)
    lr = {"gd": 0.5, "momentum": 0.5, "rmsprop": 0.02, "adam": 0.02}[name]
    copies = snapshot(params, X, Y)
    result = training.train(
        spec, params, X, Y, optimizers.OPTIMIZERS[name](lr), epochs=15, batch_size=16, rng=rng
    )
    assert_unchanged([params, X, Y], copies)
    assert len(result.losses) == 15 * 4
    assert np.mean(result.losses[-4:]) < 0.5 * np.mean(result.losses[:4])
    accuracy = ((network.predict(spec, result.params, X, result.running) > 0.5) == Y).mean()
    assert accuracy >= 0.9
    assert not np.array_equal(result.running["running_mean1"], 0.0)


@pytest.mark.parametrize(
    ("kind", "output", "n_out"), [("multiclass", "softmax", 3), ("regression", "identity", 1)]
)
def test_training_other_outputs(kind, output, n_out):
    rng = np.random.default_rng(10)
    X, Y = training.separable_data(rng, n_x=3, m=48, kind=kind)
    assert X.shape == (3, 48) and Y.shape == (n_out, 48)
    spec = NetworkSpec(3, (LayerSpec(5, "tanh", True), LayerSpec(n_out, output)))
    result = training.train(
        spec, network.init_params(spec, rng), X, Y, optimizers.Adam(0.02),
        epochs=10, batch_size=12, rng=rng,
    )  # fmt: skip
    assert np.mean(result.losses[-4:]) < 0.5 * np.mean(result.losses[:4])


def test_separable_data_is_separable():
    rng = np.random.default_rng(11)
    X, Y = training.separable_data(rng, n_x=3, m=40)
    assert set(np.unique(Y)) == {0.0, 1.0}
    # least squares on the +-1 labels recovers a separating hyperplane through 0
    w, *_ = np.linalg.lstsq(X.T, 2 * Y[0] - 1, rcond=None)
    assert ((X.T @ w > 0) == (Y[0] == 1)).all()
    Xm, Ym = training.separable_data(rng, n_x=2, m=30, kind="multiclass")
    np.testing.assert_array_equal(Ym.sum(axis=0), 1.0)
    centres = np.array([[3 * np.cos(a), 3 * np.sin(a)] for a in (0, 2 * np.pi / 3, 4 * np.pi / 3)])
    assert ((centres @ Xm).argmax(axis=0) == Ym.argmax(axis=0)).all()


# --------------------------------------------------------------------------
# Running statistics, inference, pluggable BN
# --------------------------------------------------------------------------


def test_running_stats_and_inference_mode():
    spec = make_spec("relu", True, output_bn=True)
    rng = np.random.default_rng(12)
    params, running = network.init_params(spec, rng), network.init_running(spec)
    X, Y = rng.standard_normal((3, 6)), make_labels(rng, "sigmoid", 1, 6)
    copies = snapshot(params, running, X, Y)
    _, _, cache = network.loss_and_grads(spec, params, X, Y)
    new = network.update_running_stats(spec, running, cache)
    Z1 = cache["layers"][0]["Z"]
    expected = batchnorm.update_running(running["running_mean1"], running["running_var1"], Z1, 0.9)
    np.testing.assert_allclose(new["running_mean1"], expected[0])
    np.testing.assert_allclose(new["running_var1"], expected[1])
    A_all = network.predict(spec, params, X, new)
    A_one = network.predict(spec, params, X[:, :1], new)  # m = 1 is ordinary at inference
    np.testing.assert_allclose(A_one, A_all[:, :1], rtol=1e-12)
    assert_unchanged([params, running, X, Y], copies)
    with pytest.raises(ValueError, match="^cache: backward needs a training-mode"):
        _, eval_cache = network.forward(spec, params, X, running=new, training=False)
        network.backward(spec, params, eval_cache, np.ones((1, 6)))


def test_pluggable_bn_is_used():
    calls = []

    def counted(fn):
        def wrapper(*args):
            calls.append(fn.__name__)
            return fn(*args)

        return wrapper

    fake = types.SimpleNamespace(
        **{f: counted(getattr(batchnorm, f)) for f in network._BN_FUNCTIONS}
    )
    spec = make_spec("tanh", True)
    rng = np.random.default_rng(13)
    params = network.init_params(spec, rng)
    X, Y = rng.standard_normal((3, 5)), make_labels(rng, "sigmoid", 1, 5)
    loss, grads, cache = network.loss_and_grads(spec, params, X, Y, bn=fake)
    network.update_running_stats(spec, network.init_running(spec), cache, bn=fake)
    assert sorted(set(calls)) == ["backward", "forward", "update_running"]
    assert loss == network.loss_and_grads(spec, params, X, Y)[0]
    broken = types.SimpleNamespace(forward=batchnorm.forward)
    with pytest.raises(TypeError, match="^bn: "):
        network.forward(spec, params, X, bn=broken)
    wrong = types.SimpleNamespace(**{**vars(fake), "forward": lambda z, g, b, e: z[:, :1]})
    with pytest.raises(ValueError, match=r"^bn\.forward result"):
        network.forward(spec, params, X, bn=wrong)


# --------------------------------------------------------------------------
# Bad specs and arguments
# --------------------------------------------------------------------------

OUT = LayerSpec(1, "sigmoid")
L0 = r"spec\.layers\[0\]"


@pytest.mark.parametrize(
    ("spec", "error", "prefix"),
    [
        ("not a spec", TypeError, r"spec:"),
        (NetworkSpec(0, (OUT,)), ValueError, r"spec\.n_x:"),
        (NetworkSpec(2, ()), ValueError, r"spec\.layers:"),
        (NetworkSpec(2, (LayerSpec(0, "relu"), OUT)), ValueError, L0 + r"\.units:"),
        (NetworkSpec(2, (LayerSpec(3, "softmax"), OUT)), ValueError, L0 + r"\.activation:"),
        (NetworkSpec(2, (LayerSpec(3, "relu"),)), ValueError, L0 + r"\.activation:"),
        (NetworkSpec(2, (LayerSpec(1, "softmax"),)), ValueError, L0 + r"\.units:"),
        (NetworkSpec(2, (LayerSpec(2.5, "relu"), OUT)), TypeError, L0 + r"\.units:"),
        (NetworkSpec(2, (LayerSpec(2, "relu", 1), OUT)), TypeError, L0 + r"\.batch_norm:"),
        (NetworkSpec(2, ("relu", OUT)), TypeError, L0 + ":"),
        (NetworkSpec(2, (OUT,), eps=0.0), ValueError, r"spec\.eps:"),
        (NetworkSpec(2, (OUT,), momentum=1.5), ValueError, r"spec\.momentum:"),
    ],
)
def test_bad_specs_are_refused(spec, error, prefix):
    with pytest.raises(error, match=f"^{prefix}"):
        network.validate_spec(spec)
    with pytest.raises(error, match=f"^{prefix}"):
        network.init_params(spec, np.random.default_rng(0))


def test_bad_arguments_are_refused():
    spec = make_spec("relu", True)
    rng = np.random.default_rng(14)
    params = network.init_params(spec, rng)
    X, Y = rng.standard_normal((3, 4)), np.ones((1, 4))
    fwd, mini = network.forward, training.minibatches
    cases = [
        (lambda: fwd(spec, params, X[:2]), ValueError, "X:"),
        (lambda: fwd(spec, params, X.astype(int)), TypeError, "X:"),
        (lambda: fwd(spec, params, np.full((3, 4), np.nan)), ValueError, "X:"),
        (lambda: fwd(spec, {"W1": params["W1"]}, X), ValueError, "params: missing"),
        (lambda: fwd(spec, {**params, "x": X}, X), ValueError, "params: unexpected 'x'"),
        (lambda: fwd(spec, {**params, "W1": X}, X), ValueError, r"params\['W1'\]:"),
        (lambda: fwd(spec, params, X, training=False), ValueError, "running:"),
        (lambda: fwd(spec, params, X, training="no"), TypeError, "training:"),
        (lambda: network.init_params(spec, 0), TypeError, "rng:"),
        (lambda: network.init_params(spec, rng, "glorot"), ValueError, "init:"),
        (lambda: network.loss_and_grads(spec, params, X, 2 * Y), ValueError, "Y:"),
        (lambda: network.backward(spec, params, {}, Y), TypeError, "cache:"),
        (lambda: network.update_running_stats(spec, {}, {}), ValueError, "running: missing"),
        (lambda: mini(X, Y, 0, rng), ValueError, "batch_size:"),
        (lambda: mini(X, Y[:, :3], 2, rng), ValueError, "Y:"),
        (lambda: mini(X, Y, 2, 42), TypeError, "rng:"),
        (lambda: training.separable_data(rng, kind="spiral"), ValueError, "kind:"),
        (lambda: training.separable_data(rng, n_x=1, kind="multiclass"), ValueError, "n_x:"),
        (lambda: layers.activation("gelu"), ValueError, "name: unknown activation 'gelu'"),
        (lambda: losses.output_activation("tanh", X), ValueError, "name:"),
        (lambda: losses.loss_and_grad("softmax", X, np.ones((3, 4))), ValueError, "Y:"),
        (lambda: layers.dense(X, X), ValueError, "A:"),
        (lambda: layers.dense_backward(X, X, X[:, :3], True), ValueError, "A:"),
        (lambda: optimizers.Adam(0.1).step(P, G, None), TypeError, "opt_state:"),
    ]  # fmt: skip
    for call, error, prefix in cases:
        with pytest.raises(error, match=f"^{prefix}"):
            call()
    with pytest.raises(TypeError, match="^optimizer:"):
        training.train(spec, params, X, Y, "adam", epochs=1, batch_size=2, rng=rng)
