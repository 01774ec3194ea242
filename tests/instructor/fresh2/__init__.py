"""A second catalogue of student mistakes in the package exercises, written from the math alone.

Each module holds the entries of one family of exercises; `run` passes every entry through
the checks its exercise's graded cells call (cs231n_bn/checks/registry.py) and prints, for a
mistake, the first message a student would read. The catalogue measures how often the
checks name a mistake that their authors did not write down; a mistake that passes is a
finding to report, a correct variant that fails is a false alarm.
"""
