"""Transformer exercise 4: the softmax backward in one expression.

Given datt, derive dwei, the gradient of the masked scores, directly: without exercise 3's lines through
wmax, wexp, wsum and wsum_inv. Work it out on paper for one row, then write it for every row at once.

    wei = scores.masked_fill(tril == 0, float("-inf"))   # (4, 8, 8)
    att = F.softmax(wei, dim=-1)                         # (4, 8, 8)

Already defined when the tutor runs this file (no imports needed): torch, F, the sizes n, T, C and H,
datt (the gradient flowing in), and exercise 3's forward tensors (q, k, v, scores, wei, att, ...).
Only dwei is checked.

Check:  backprop-ninja --course transformer check softmax
Hint:   backprop-ninja --course transformer hint softmax dwei
"""

# dwei: gradient of loss with respect to wei, shape (4, 8, 8)
#   from: att = F.softmax(wei, dim=-1)
dwei = None
