"""The learner's workspace: its files, settings, progress store, journal and the watcher of its folder."""
