# Reference solution for the transformer pack's exercise 1: every atomic gradient of a LayerNorm.
dout = wout / out.numel()
dbeta = dout.sum((0, 1))
dxg = dout.clone()
dgamma = (xhat * dxg).sum((0, 1))
dxhat = gamma * dxg
drstd = (xc * dxhat).sum(-1, keepdim=True)
dxvar = -0.5 * (xvar + 1e-5)**-1.5 * drstd
dxc2 = torch.ones_like(xc2) / C * dxvar
dxc = rstd * dxhat + 2 * xc * dxc2
dxmean = -dxc.sum(-1, keepdim=True)
dx = dxc + dxmean / C
