"""The sandbox that runs the learner's file: the tutor's client (client.py) beside the zygote it starts
(zygote.py), the spare children it forks ahead of time (spare.py, handover.py), what runs in each child
(child.py, guard.py, isolate.py), and the fences around them (reaper.py, privacy.py)."""
