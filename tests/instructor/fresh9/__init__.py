"""A ninth catalogue of student mistakes in the package exercises, written from the math alone.

One module per area, one Catalogue per exercise; `scaffold` holds the validation lines the
student edition keeps and the correct pieces the entries perturb. `verify` compares every
entry with the instructor's functions on random inputs without the checks; `run` passes
every entry through the checks of its exercise's graded cells.
"""
