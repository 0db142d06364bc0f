# Reference solution for the transformer pack's exercise 5: every gradient of a pre-norm residual block.
dlogits = F.softmax(logits, 1)
dlogits[range(n), Yb] -= 1
dlogits /= n
dWout = x2[:, -1, :].T @ dlogits
dbout = dlogits.sum(0)
dx2 = torch.zeros_like(x2)
dx2[:, -1, :] = dlogits @ Wout.T
dhmid = dx2 @ W2.T
dW2 = (hmid.transpose(-2, -1) @ dx2).sum(0)
dhpre = (1 - hmid**2) * dhmid
dW1 = (ln2.transpose(-2, -1) @ dhpre).sum(0)
dln2 = dhpre @ W1.T
dx1 = dx2 + rstd2 / E * (E * dln2 - dln2.sum(-1, keepdim=True) - ln2 * (dln2 * ln2).sum(-1, keepdim=True))
dy = dx1 @ Wo.T
dWo = (y.transpose(-2, -1) @ dx1).sum(0)
datt = dy @ v.transpose(-2, -1)
dv = att.transpose(-2, -1) @ dy
dwei = att * (datt - (datt * att).sum(-1, keepdim=True))
dscores = dwei.masked_fill(torch.tril(torch.ones(T, T, device=dwei.device)) == 0, 0.0)
dq = dscores @ k * H**-0.5
dk = dscores.transpose(-2, -1) @ q * H**-0.5
dWq = (ln1.transpose(-2, -1) @ dq).sum(0)
dWk = (ln1.transpose(-2, -1) @ dk).sum(0)
dWv = (ln1.transpose(-2, -1) @ dv).sum(0)
dln1 = dq @ Wq.T + dk @ Wk.T + dv @ Wv.T
demb = dx1 + rstd1 / E * (E * dln1 - dln1.sum(-1, keepdim=True) - ln1 * (dln1 * ln1).sum(-1, keepdim=True))
dC = torch.zeros_like(C).index_add_(0, Xb.view(-1), demb.view(-1, E))
dP = demb.sum(0)
