"""Widgets of the tutor's screens."""
