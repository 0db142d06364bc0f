"""The Textual face of the tutor: an app factory, its screens, widgets and styles."""
