"""The sandbox that runs the learner's file: the tutor's client (client.py) beside the zygote it starts
(zygote.py), the spare children it forks ahead of time and lends to the tutor (spare.py), the hand-over of a
request straight into a lent child (handover.py), what runs in each child (child.py, guard.py, isolate.py),
what comes back (results.py), and the fences around them (reaper.py, privacy.py)."""
