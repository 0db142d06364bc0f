"""Exercise 4: Train the MLP with your own backward pass.

This file is the backward pass of ONE training step. The tutor runs the forward pass of each step
(hidden layer of 200, batch 32) and then this file, and updates the parameters with the gradients it
leaves behind: p.data += -lr * grad. No loss.backward() anywhere.

Defined when it runs: torch, F, n, Xb, Yb, the parameters C, W1, b1, W2, b2, bngain, bnbias and the
forward tensors of this step: emb, embcat, hprebn, bnmean, bnvar, bnvar_inv, bnraw, hpreact, h,
logits, loss.

Use what you derived in exercises 2 and 3: dlogits in one expression, dhprebn in one expression.

Check one batch:  backprop-ninja check training      Train:  backprop-ninja train
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
