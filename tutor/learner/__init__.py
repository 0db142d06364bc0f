"""The learner's file as the tutor reads it: its text, syntax tree, assigned names and notebook cells."""
