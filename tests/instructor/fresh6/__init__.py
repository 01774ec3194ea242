"""A sixth catalogue of student mistakes in the package exercises, written from the math and the
docstrings alone. `scaffold` holds the package's validation lines that the student edition keeps
around each solution region; every entry's body is a student's solution region. `verify` compares
every entry with the instructor's functions without the checks; `run` passes every entry through
the graded checks of its exercise.
"""
