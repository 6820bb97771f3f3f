"""TensorFlow: the gradient of fused_batch_norm on an empty 5-D (NDHWC) batch has the wrong shape.

tensorflow/core/kernels/fused_batch_norm_op.cc, ``FusedBatchNormGradOpBase::ComputeWithReservedSpace``:
a 5-D x is folded into 4-D (``dest_shape``: N, D, H * W, C) and x_backprop is allocated in that shape;
after the computation ``x_backprop->CopyFrom(*x_backprop, x_shape)`` gives it x's 5-D shape back.  For an
empty x the function returns early (``if (x.shape().num_elements() == 0)``: scale and offset gradients set
to 0) and skips that CopyFrom, so dx of a (0, 1, 1, 1, 2) batch comes back (0, 1, 1, 2).  A non-empty 5-D
batch and an empty 4-D one are right.  Observed with tensorflow-cpu 2.21.0 (CPU kernel).
Run: ``python docs/findings/tensorflow-empty-5d-gradient.py``.
"""

import numpy as np
import tensorflow as tf

x = tf.constant(np.zeros((0, 1, 1, 1, 2), np.float32))  # N = 0, D = H = W = 1, C = 2
scale, offset = tf.constant(np.ones(2, np.float32)), tf.constant(np.zeros(2, np.float32))
with tf.GradientTape() as tape:
    tape.watch(x)
    y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, data_format="NDHWC")
    loss = tf.reduce_sum(y)
dx = tape.gradient(loss, x)
print("x", x.shape, "y", y.shape, "dx", dx.shape)
assert dx.shape == x.shape, f"the gradient of a {x.shape} batch has shape {dx.shape}"
