# dC by the lecture's explicit loop (a compound statement writes it), after a wrong first line.
dlogprobs = torch.zeros_like(logprobs)
dlogprobs[range(n), Yb] = 1.0 / n
demb = torch.zeros_like(emb)
dC = torch.zeros_like(C)
for k in range(Xb.shape[0]):
    for j in range(Xb.shape[1]):
        dC[Xb[k, j]] += demb[k, j]
