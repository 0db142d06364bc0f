"""Build notebooks laid out like the lecture's (its cells in its order), with the course's reference answers."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"

LECTURE_CMP = '''\
# utility function we will use later when comparing manual gradients to PyTorch gradients
def cmp(s, dt, t):
  ex = torch.all(dt == t.grad).item()
  app = torch.allclose(dt, t.grad)
  maxdiff = (dt - t.grad).abs().max().item()
  print(f'{s:15s} | exact: {str(ex):5s} | approximate: {str(app):5s} | maxdiff: {maxdiff}')
'''

FORWARD = '''\
# forward pass, "chunkated" into smaller steps that are possible to backward one at a time

emb = C[Xb] # embed the characters into vectors
embcat = emb.view(emb.shape[0], -1) # concatenate the vectors
# Linear layer 1
hprebn = embcat @ W1 + b1 # hidden layer pre-activation
# BatchNorm layer
bnmeani = 1/n*hprebn.sum(0, keepdim=True)
bndiff = hprebn - bnmeani
bndiff2 = bndiff**2
bnvar = 1/(n-1)*(bndiff2).sum(0, keepdim=True) # note: Bessel's correction (dividing by n-1, not n)
bnvar_inv = (bnvar + 1e-5)**-0.5
bnraw = bndiff * bnvar_inv
hpreact = bngain * bnraw + bnbias
# Non-linearity
h = torch.tanh(hpreact) # hidden layer
# Linear layer 2
logits = h @ W2 + b2 # output layer
# cross entropy loss (same as F.cross_entropy(logits, Yb))
logit_maxes = logits.max(1, keepdim=True).values
norm_logits = logits - logit_maxes # subtract max for numerical stability
counts = norm_logits.exp()
counts_sum = counts.sum(1, keepdims=True)
counts_sum_inv = counts_sum**-1
probs = counts * counts_sum_inv
logprobs = probs.log()
loss = -logprobs[range(n), Yb].mean()

# PyTorch backward pass
for p in parameters:
  p.grad = None
for t in [logprobs, probs, counts, counts_sum, counts_sum_inv,
          norm_logits, logit_maxes, logits, h, hpreact, bnraw,
          bnvar_inv, bnvar, bndiff2, bndiff, hprebn, bnmeani,
          embcat, emb]:
  t.retain_grad()
loss.backward()
loss'''

INIT = '''\
n_embd = 10 # the dimensionality of the character embedding vectors
n_hidden = {n_hidden} # the number of neurons in the hidden layer of the MLP

g = torch.Generator().manual_seed(2147483647) # for reproducibility
C  = torch.randn((vocab_size, n_embd),            generator=g)
# Layer 1
W1 = torch.randn((n_embd * block_size, n_hidden), generator=g) * (5/3)/((n_embd * block_size)**0.5)
b1 = torch.randn(n_hidden,                        generator=g) * 0.1 # using b1 just for fun, it's useless because of BN
# Layer 2
W2 = torch.randn((n_hidden, vocab_size),          generator=g) * 0.1
b2 = torch.randn(vocab_size,                      generator=g) * 0.1
# BatchNorm parameters
bngain = torch.randn((1, n_hidden))*0.1 + 1.0
bnbias = torch.randn((1, n_hidden))*0.1

parameters = [C, W1, b1, W2, b2, bngain, bnbias]
print(sum(p.nelement() for p in parameters)) # number of parameters in total
for p in parameters:
  p.requires_grad = True'''


def answer_lines(name: str) -> list[str]:
    """A reference solution's code lines (its comments dropped)."""
    text = (SOLUTIONS / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def exercise1_cell(lines: list[str] | None = None) -> str:
    """The lecture's exercise 1 cell: the answers, then one cmp() per gradient."""
    lines = lines if lines is not None else answer_lines("atomic.py")
    names = []
    for line in lines:
        target = line.split("=")[0].split("[")[0].split(".")[0].strip().rstrip("+-*/ ")
        if target.startswith("d") and target not in names:
            names.append(target)
    checks = [f"cmp('{n[1:]}', {n}, {n[1:]})" for n in names]
    return "\n".join(["# Exercise 1: backprop through the whole thing manually,",
                      "# backpropagating through exactly all of the variables", "", *lines, "", *checks])


def training_cell(backward: list[str] | None = None) -> str:
    backward = backward if backward is not None else answer_lines("training.py")
    body = "\n".join("    " + line for line in backward)
    return f'''\
# Exercise 4: putting it all together!
# Train the MLP neural net with your own backward pass

{INIT.format(n_hidden=200)}

# same optimization as last time
max_steps = 200000
batch_size = 32
n = batch_size # convenience
lossi = []

# use this context manager for efficiency once your backward pass is written (TODO)
with torch.no_grad():

  # kick off optimization
  for i in range(max_steps):

    # minibatch construct
    ix = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g)
    Xb, Yb = Xtr[ix], Ytr[ix] # batch X,Y

    # forward pass
    emb = C[Xb] # embed the characters into vectors
    embcat = emb.view(emb.shape[0], -1) # concatenate the vectors
    hprebn = embcat @ W1 + b1 # hidden layer pre-activation
    bnmean = hprebn.mean(0, keepdim=True)
    bnvar = hprebn.var(0, keepdim=True, unbiased=True)
    bnvar_inv = (bnvar + 1e-5)**-0.5
    bnraw = (hprebn - bnmean) * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = torch.tanh(hpreact) # hidden layer
    logits = h @ W2 + b2 # output layer
    loss = F.cross_entropy(logits, Yb) # loss function

    # backward pass
    for p in parameters:
      p.grad = None
    #loss.backward() # use this for correctness comparisons, delete it later!

    # manual backprop! #swole_doge_meme
    # -----------------
{body}
    grads = [dC, dW1, db1, dW2, db2, dbngain, dbnbias]
    # -----------------

    # update
    lr = 0.1 if i < 100000 else 0.01 # step learning rate decay
    for p, grad in zip(parameters, grads):
      p.data += -lr * grad # new way of swole doge TODO: enable

    # track stats
    if i % 10000 == 0: # print every once in a while
      print(f'{{i:7d}}/{{max_steps:7d}}: {{loss.item():.4f}}')
    lossi.append(torch.log10(loss).item())'''


def lecture_cells(ex1: str | None = None, ex2: list[str] | None = None, ex3: list[str] | None = None,
                  ex4: list[str] | None = None) -> list[tuple[str, str]]:
    """(cell type, source) in the lecture's order; pass answer lines to plant mistakes."""
    ex2 = ex2 if ex2 is not None else answer_lines("cross_entropy.py")
    ex3 = ex3 if ex3 is not None else answer_lines("batchnorm.py")
    return [
        ("markdown", "## Becoming a backprop ninja"),
        ("code", "import torch\nimport torch.nn.functional as F\nimport matplotlib.pyplot as plt # for making figures\n%matplotlib inline"),
        ("code", "!wget https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"),
        ("code", "words = open('names.txt', 'r').read().splitlines()\nprint(len(words))\nprint(max(len(w) for w in words))\nprint(words[:8])"),
        ("code", "chars = sorted(list(set(''.join(words))))\nstoi = {s:i+1 for i,s in enumerate(chars)}\nstoi['.'] = 0\n"
                 "itos = {i:s for s,i in stoi.items()}\nvocab_size = len(itos)\nprint(itos)\nprint(vocab_size)"),
        ("code", "block_size = 3\ndef build_dataset(words):\n  X, Y = [], []\n  for w in words:\n    context = [0] * block_size\n"
                 "    for ch in w + '.':\n      ix = stoi[ch]\n      X.append(context)\n      Y.append(ix)\n"
                 "      context = context[1:] + [ix]\n  X = torch.tensor(X)\n  Y = torch.tensor(Y)\n  return X, Y\n\n"
                 "import random\nrandom.seed(42)\nrandom.shuffle(words)\nn1 = int(0.8*len(words))\nn2 = int(0.9*len(words))\n"
                 "Xtr,  Ytr  = build_dataset(words[:n1])\nXdev, Ydev = build_dataset(words[n1:n2])\nXte,  Yte  = build_dataset(words[n2:])"),
        ("markdown", "ok biolerplate done, now we get to the action:"),
        ("code", LECTURE_CMP),
        ("code", INIT.format(n_hidden=64)),
        ("code", "batch_size = 32\nn = batch_size # a shorter variable also, for convenience\n# construct a minibatch\n"
                 "ix = torch.randint(0, Xtr.shape[0], (batch_size,), generator=g)\nXb, Yb = Xtr[ix], Ytr[ix] # batch X,Y"),
        ("code", FORWARD),
        ("code", ex1 if ex1 is not None else exercise1_cell()),
        ("code", "# Exercise 2: backprop through cross_entropy but all in one go\n\n# forward pass\n\n# now:\n"
                 "loss_fast = F.cross_entropy(logits, Yb)\nprint(loss_fast.item(), 'diff:', (loss_fast - loss).item())"),
        ("code", "# backward pass\n\n" + "\n".join(ex2) + "\n\ncmp('logits', dlogits, logits) # I can only get approximate to be true"),
        ("code", "F.softmax(logits, 1)[0]"),
        ("code", "plt.figure(figsize=(8,8))\nplt.imshow(dlogits.detach(), cmap='gray')"),
        ("code", "# Exercise 3: backprop through batchnorm but all in one go\n\n# forward pass\n\n# now:\n"
                 "hpreact_fast = bngain * (hprebn - hprebn.mean(0, keepdim=True)) / torch.sqrt(hprebn.var(0, keepdim=True, unbiased=True) + 1e-5) + bnbias\n"
                 "print('max diff:', (hpreact_fast - hpreact).abs().max())"),
        ("code", "# backward pass\n\n# before we had:\n# dbnraw = bngain * dhpreact\n\n"
                 "# calculate dhprebn given dhpreact (i.e. backprop through the batchnorm)\n"
                 + "\n".join(ex3) + "\n\ncmp('hprebn', dhprebn, hprebn) # I can only get approximate to be true"),
        ("code", training_cell(ex4)),
        ("code", "# calibrate the batch norm at the end of training\n\nwith torch.no_grad():\n  emb = C[Xtr]\n"
                 "  embcat = emb.view(emb.shape[0], -1)\n  hpreact = embcat @ W1 + b1\n  bnmean = hpreact.mean(0, keepdim=True)\n"
                 "  bnvar = hpreact.var(0, keepdim=True, unbiased=True)"),
    ]


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    import nbformat
    from nbformat import v4

    nb = v4.new_notebook()
    nb.cells = [v4.new_code_cell(src) if kind == "code" else v4.new_markdown_cell(src) for kind, src in cells]
    nbformat.write(nb, str(path))
    return path


def cell_number(cells: list[tuple[str, str]], startswith: str) -> int:
    """The 1-based number of the first cell whose source starts with `startswith`."""
    return next(i for i, (_, src) in enumerate(cells, start=1) if src.startswith(startswith))
