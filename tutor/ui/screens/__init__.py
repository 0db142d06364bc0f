"""The tutor's screens: home (exercise list), exercise (steps, detail), and small modals."""
