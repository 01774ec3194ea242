"""A third catalogue of student mistakes in the package exercises, written from the math alone.

Each module holds the entries of a family of exercises (the package's own validation lines,
which the student edition keeps, are shared helpers; every entry's body is the student's
solution region). `verify` compares every entry with the instructor's functions on random
inputs without the checks; `run` then passes every entry through the checks of its
exercise's graded cells and prints what a student would read.
"""
