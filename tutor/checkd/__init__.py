"""The check server behind the command line: a background process per user holding warm Checkers, so that
`backprop-ninja check` answers in a fraction of a second (place.py: where it listens and which tutor it runs;
server.py: the process; client.py: the command line's side, torch-free)."""
