"""Keras 3 on the torch backend: BatchNormalization's batch variance is E[x^2] - E[x]^2, unclamped.

keras/src/backend/torch/nn.py, ``moments`` (keras 3.15.1; the numpy backend's is the same):
``variance = mean(square(x)) - square(mean(x))``.  In float32 at an offset far from the spread the two
terms cancel (float32's spacing at E[x^2] = 1e8 is 8): for the three float32 values 10000, 10001, 10001
the variance comes out -8 and the training-mode output is NaN, where the exact variance is 2/9 and the
output is finite.  The JAX backend (``jnp.var``, two passes) gives
the right output.  Run: ``KERAS_BACKEND=torch python docs/findings/keras-torch-variance.py``.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

assert keras.backend.backend() == "torch", keras.backend.backend()
x = np.array([[10000.0], [10001.0], [10001.0]], dtype=np.float32)  # 3 examples, 1 channel

mean, variance = keras.ops.moments(x, axes=[0])
print("keras.ops.moments variance:", float(variance[0]), " exact:", x.astype(np.float64).var())

layer = keras.layers.BatchNormalization(axis=-1)
y = keras.ops.convert_to_numpy(layer(x, training=True))
print("BatchNormalization(x, training=True):", y.ravel())
assert np.isfinite(y).all(), "NaN output: the variance came out negative"
