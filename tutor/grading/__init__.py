"""Grading a class: a folder or zip of submissions, each file matched to its exercises and checked with the same
engine as `check`, results kept per (student, exercise, content), and the class-wide map of mistakes written
as grades.csv, results.jsonl and report.html; also the files of a Gradescope autograder. Headless: no UI."""
