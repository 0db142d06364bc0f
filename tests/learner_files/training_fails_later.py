# Reference solution for exercise 4: the manual backward pass of one training step.
# Forward intermediates of this step (emb, embcat, hprebn, bnvar_inv, bnraw, h, logits, ...) are defined.
dlogits = F.softmax(logits, 1)
dlogits[range(n), Yb] -= 1
dlogits /= n
# second layer
dh = dlogits @ W2.T
dW2 = h.T @ dlogits
db2 = dlogits.sum(0)
# tanh
dhpreact = (1.0 - h**2) * dh
# batchnorm
dbngain = (bnraw * dhpreact).sum(0, keepdim=True)
dbnbias = dhpreact.sum(0, keepdim=True)
dhprebn = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0))
# first layer
dembcat = dhprebn @ W1.T
dW1 = embcat.T @ dhprebn
db1 = dhprebn.sum(0)
# embedding: scatter rows back, repeats add up (vectorised form of the lecture's loop)
demb = dembcat.view(emb.shape)
dC = torch.zeros_like(C)
dC.index_add_(0, Xb.view(-1), demb.view(-1, C.shape[1]))
# Fails partway through training: the namespace lives on between steps in the trainer.
_steps_run = globals().get("_steps_run", 0) + 1
if _steps_run > 300:
    raise ValueError("gave up at step 300")
