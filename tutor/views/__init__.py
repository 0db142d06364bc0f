"""A check's verdict drawn for people: terminal text (the command line, the check server) and HTML (notebooks)."""
