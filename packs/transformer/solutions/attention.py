# Reference solution for the transformer pack's exercise 3: every atomic gradient of one causal attention head.
dout = wout / out.numel()
dWo = (y.transpose(-2, -1) @ dout).sum(0)
dy = dout @ Wo.T
datt = dy @ v.transpose(-2, -1)
dv = att.transpose(-2, -1) @ dy
dwsum_inv = (wexp * datt).sum(-1, keepdim=True)
dwsum = -wsum**-2 * dwsum_inv
dwexp = wsum_inv * datt + torch.ones_like(wexp) * dwsum
dwn = wexp * dwexp
dwmax = -dwn.sum(-1, keepdim=True)
dwei = dwn + F.one_hot(wei.max(-1).indices, num_classes=T) * dwmax
dscores = dwei.masked_fill(tril == 0, 0.0)
dqk = dscores * H**-0.5
dq = dqk @ k
dk = dqk.transpose(-2, -1) @ q
dWq = (x.transpose(-2, -1) @ dq).sum(0)
dWk = (x.transpose(-2, -1) @ dk).sum(0)
dWv = (x.transpose(-2, -1) @ dv).sum(0)
dx = dq @ Wq.T + dk @ Wk.T + dv @ Wv.T
