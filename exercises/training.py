"""Exercise 4: Train the MLP with your own backward pass.

This file is the backward pass of ONE training step; the tutor runs it inside the lecture's training
loop, which it owns (so it can grad-check it, time it fairly, stop it and evaluate what it trained):

    n_embd, n_hidden, block_size, batch_size = 10, 200, 3, 32      # 12,297 parameters
    g = torch.Generator().manual_seed(2147483647)
    C, W1, b1, W2, b2 = ...  # the lecture's initialisation, drawn from g
    bngain, bnbias = ...     # from their own seeded generator (the lecture's were unseeded)
    max_steps = 200000       # `backprop-ninja train` runs fewer by default; --steps 200000 is the lecture
    with torch.no_grad():
        for i in range(max_steps):
            ix = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g)
            Xb, Yb = Xtr[ix], Ytr[ix]
            emb = C[Xb]
            embcat = emb.view(emb.shape[0], -1)
            hprebn = embcat @ W1 + b1
            bnmean = hprebn.mean(0, keepdim=True)
            bnvar = hprebn.var(0, keepdim=True, unbiased=True)
            bnvar_inv = (bnvar + 1e-5)**-0.5
            bnraw = (hprebn - bnmean) * bnvar_inv
            hpreact = bngain * bnraw + bnbias
            h = torch.tanh(hpreact)
            logits = h @ W2 + b2
            loss = F.cross_entropy(logits, Yb)
            # ---- THIS FILE RUNS HERE: leave dC, dW1, db1, dW2, db2, dbngain, dbnbias ----
            lr = 0.1 if i < max_steps // 2 else 0.01
            for p, grad in zip([C, W1, b1, W2, b2, bngain, bnbias], [dC, dW1, db1, dW2, db2, dbngain, dbnbias]):
                p.data += -lr * grad
            lossi.append(loss.log10().item())

Defined when it runs: torch, F, the sizes n (= batch_size), vocab_size, n_embd, n_hidden and block_size,
Xb, Yb, the parameters and the forward tensors above.
Autograd in any form (.backward(), .grad, torch.autograd, requires_grad) is refused: that is the point.
Use what you derived in exercises 2 and 3: dlogits in one expression, dhprebn in one expression.
Shapes at n = 32: emb (32, 3, 10), embcat (32, 30), hprebn, bnraw, hpreact and h (32, 200), bnmean,
bnvar, bnvar_inv, bngain and bnbias (1, 200), logits (32, 27), W1 (30, 200), b1 (200,), W2 (200, 27),
b2 (27,), C (27, 10). Helper lines (dlogits, dh, dhpreact, dhprebn, demb, ...) are fine; only the seven
below are checked. A tensor used twice gets two contributions: assign the first, add the second with +=.

Check one batch:  backprop-ninja check training
Train:            backprop-ninja train          (grad check on 5 batches, then training, then samples)
"""

# dW2, db2: from logits = h @ W2 + b2 (start with the fused dlogits of exercise 2)
dW2 = None
db2 = None

# dbngain, dbnbias: from hpreact = bngain * bnraw + bnbias
dbngain = None
dbnbias = None

# dW1, db1: from hprebn = embcat @ W1 + b1 (through the fused dhprebn of exercise 3)
dW1 = None
db1 = None

# dC: from emb = C[Xb]
dC = None
