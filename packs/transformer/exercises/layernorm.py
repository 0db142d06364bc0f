"""Transformer exercise 1: LayerNorm, one atom at a time.

Write the gradient of every line of a LayerNorm, from dout back to dx. It normalises each position's
C channels to mean 0 and variance 1 (no Bessel correction), then scales by gamma and shifts by beta.

Already defined when the tutor runs this file (no imports needed): torch, F (torch.nn.functional),
the sizes n (sequences), T (positions) and C (channels), the input x, the parameters gamma and beta,
wout (the fixed weights of the loss), and every forward tensor below. None of them requires grad.

The forward pass you differentiate, with every tensor's shape at n = 4, T = 8, C = 16:

    xmean = x.mean(-1, keepdim=True)    # (4, 8, 1)   x: (4, 8, 16)
    xc = x - xmean                      # (4, 8, 16)
    xc2 = xc**2                         # (4, 8, 16)
    xvar = xc2.mean(-1, keepdim=True)   # (4, 8, 1)
    rstd = (xvar + 1e-5)**-0.5          # (4, 8, 1)
    xhat = xc * rstd                    # (4, 8, 16)
    xg = gamma * xhat                   # (4, 8, 16)  gamma, beta: (16,)
    out = xg + beta                     # (4, 8, 16)
    loss = (out * wout).mean()          # ()          wout: (4, 8, 16)

Every check also runs a second batch with other n, T and C: write sizes by name, never as numbers.

Check:  backprop-ninja --course transformer check layernorm
Hint:   backprop-ninja --course transformer hint layernorm <step>
"""

# dout: gradient of loss with respect to out, shape (4, 8, 16)
#   from: loss = (out * wout).mean()
dout = None

# dbeta: gradient of loss with respect to beta, shape (16,)
#   from: out = xg + beta
dbeta = None

# dxg: gradient of loss with respect to xg, shape (4, 8, 16)
#   from: out = xg + beta
dxg = None

# dgamma: gradient of loss with respect to gamma, shape (16,)
#   from: xg = gamma * xhat
dgamma = None

# dxhat: gradient of loss with respect to xhat, shape (4, 8, 16)
#   from: xg = gamma * xhat
dxhat = None

# drstd: gradient of loss with respect to rstd, shape (4, 8, 1)
#   from: xhat = xc * rstd
drstd = None

# dxvar: gradient of loss with respect to xvar, shape (4, 8, 1)
#   from: rstd = (xvar + 1e-5)**-0.5
dxvar = None

# dxc2: gradient of loss with respect to xc2, shape (4, 8, 16)
#   from: xvar = xc2.mean(-1, keepdim=True)
dxc2 = None

# dxc: gradient of loss with respect to xc, shape (4, 8, 16)
#   from: xhat = xc * rstd  and  xc2 = xc**2
dxc = None

# dxmean: gradient of loss with respect to xmean, shape (4, 8, 1)
#   from: xc = x - xmean
dxmean = None

# dx: gradient of loss with respect to x, shape (4, 8, 16)
#   from: xmean = x.mean(-1, keepdim=True)  and  xc = x - xmean
dx = None
