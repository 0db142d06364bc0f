"""Transformer exercise 5: train a pre-norm transformer block with your own backward pass.

A tiny character model on the names: each example is T = 8 characters of context (Xb) and the next
character (Yb). It runs one pre-norm residual block and predicts from the last position. Write the
gradients of the ten parameters; the tutor checks them on the first batches of the training loop, then
trains with them (no loss.backward(): files using autograd are refused).

Already defined when the tutor runs this file: torch, F, n, the sizes T, E (channels), H (head size),
M (MLP width), Xb, Yb, the parameters C, P, Wq, Wk, Wv, Wo, W1, W2, Wout, bout, and every forward tensor:

    emb = C[Xb] + P                                       # (32, 8, 16)  C: (27, 16), P: (8, 16)
    rstd1 = (emb.var(-1, keepdim=True, unbiased=False) + 1e-5)**-0.5
    ln1 = (emb - emb.mean(-1, keepdim=True)) * rstd1      # (32, 8, 16)  LayerNorm, no gain or bias
    q = ln1 @ Wq                                          # (32, 8, 16)  Wq, Wk, Wv: (16, 16)
    k = ln1 @ Wk
    v = ln1 @ Wv
    scores = q @ k.transpose(-2, -1) * H**-0.5            # (32, 8, 8)
    wei = scores.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf"))
    att = F.softmax(wei, dim=-1)                          # (32, 8, 8)
    y = att @ v                                           # (32, 8, 16)
    x1 = emb + y @ Wo                                     # (32, 8, 16)  Wo: (16, 16)  residual add
    rstd2 = (x1.var(-1, keepdim=True, unbiased=False) + 1e-5)**-0.5
    ln2 = (x1 - x1.mean(-1, keepdim=True)) * rstd2        # (32, 8, 16)
    hpre = ln2 @ W1                                       # (32, 8, 32)  W1: (16, 32)
    hmid = torch.tanh(hpre)
    x2 = x1 + hmid @ W2                                   # (32, 8, 16)  W2: (32, 16)  residual add
    logits = x2[:, -1, :] @ Wout + bout                   # (32, 27)     Wout: (16, 27), bout: (27,)
    loss = F.cross_entropy(logits, Yb)

Name your intermediate gradients dlogits, dx2, dhmid, dhpre, dln2, dx1, dy, datt, dv, dwei, dscores, dq, dk,
dln1, demb: each is then checked at its own line, and a wrong one is named as the root. Exercises 2-4 give
the LayerNorm and softmax backward passes in one expression each.

Check:  backprop-ninja --course transformer check block
Train:  backprop-ninja --course transformer train
"""

# dWout: gradient of loss with respect to Wout, shape (16, 27)
#   from: logits = x2[:, -1, :] @ Wout + bout
dWout = None

# dbout: gradient of loss with respect to bout, shape (27,)
#   from: logits = x2[:, -1, :] @ Wout + bout
dbout = None

# dW2: gradient of loss with respect to W2, shape (32, 16)
#   from: x2 = x1 + hmid @ W2
dW2 = None

# dW1: gradient of loss with respect to W1, shape (16, 32)
#   from: hpre = ln2 @ W1
dW1 = None

# dWo: gradient of loss with respect to Wo, shape (16, 16)
#   from: x1 = emb + y @ Wo
dWo = None

# dWq: gradient of loss with respect to Wq, shape (16, 16)
#   from: q = ln1 @ Wq
dWq = None

# dWk: gradient of loss with respect to Wk, shape (16, 16)
#   from: k = ln1 @ Wk
dWk = None

# dWv: gradient of loss with respect to Wv, shape (16, 16)
#   from: v = ln1 @ Wv
dWv = None

# dC: gradient of loss with respect to C, shape (27, 16)
#   from: emb = C[Xb] + P
dC = None

# dP: gradient of loss with respect to P, shape (8, 16)
#   from: emb = C[Xb] + P
dP = None
