"""The TUI's check service: the service process (server.py, `python -m tutor.service.server`) beside the
client the TUI holds (client.py, which imports no torch)."""
