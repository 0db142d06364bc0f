"""Process boundaries: starting the tutor's helper processes, and what crosses their pipes.

`spawn` starts a helper (environment, log, exit description, stopping it), `wire` frames headers and tensors,
`lines` speaks JSON lines, and `limits` holds what a process running a learner's code does to itself (an
output cap, death with its parent, a memory limit) and how it describes the learner's errors. Importing the
package loads no torch: only `wire` and `limits` do, in processes that run torch anyway.
"""
