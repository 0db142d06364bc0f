dlogits = F.softmax(logits, 1).cpu()
dlogits[range(n), Yb.cpu()] -= 1
dlogits /= n
