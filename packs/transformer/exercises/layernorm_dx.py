"""Transformer exercise 2: LayerNorm's dx in one expression.

Given dout, derive dx directly, without going through xhat, rstd, xvar and xc. Work it out on paper
for one position (C channels), then write dx for every position at once.

    out = gamma * (x - xmean) * (xvar + 1e-5)**-0.5 + beta    # xmean, xvar over the last dimension

Already defined when the tutor runs this file (no imports needed): torch, F, the sizes n, T and C, the
input x, gamma, beta, wout, dout (the gradient flowing in), and exercise 1's forward tensors (xmean,
xc, xvar, rstd, xhat, ...). Only dx is checked; a helper such as dxhat = gamma * dout is fine.

Check:  backprop-ninja --course transformer check layernorm-dx
Hint:   backprop-ninja --course transformer hint layernorm-dx dx
"""

# dx: gradient of loss with respect to x, shape (4, 8, 16)
#   from: out = gamma * (x - xmean) * (xvar + 1e-5)**-0.5 + beta
dx = None
