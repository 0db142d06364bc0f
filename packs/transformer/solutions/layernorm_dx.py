# Reference solution for the transformer pack's exercise 2: LayerNorm's dx in one expression.
dx = rstd / C * (C * gamma * dout - (gamma * dout).sum(-1, keepdim=True) - xhat * (gamma * dout * xhat).sum(-1, keepdim=True))
