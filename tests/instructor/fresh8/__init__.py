"""An eighth catalogue of student mistakes in the package exercises, written from the math alone.

Each module holds the entries of a family of exercises; every entry keeps the validation lines
that the student edition ships (shared through `scaffold`) and writes its own solution region.
`verify` compares every entry with the instructor's functions on random inputs without the
checks; `run` then passes every entry through the checks of its exercise's graded cells.
"""
