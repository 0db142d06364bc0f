# Reference solution for the transformer pack's exercise 4: the softmax backward in one expression.
dwei = att * (datt - (datt * att).sum(-1, keepdim=True))
