"""Run every entry of the eleventh catalogue through its exercise's graded checks and print the verdicts.

    python -m tests.instructor.fresh11.run [--exercise NAME]
"""

from tests.instructor.fresh11.catalogue import entries
from tests.instructor.later_catalogue import first_failure, main

__all__ = ["entries", "first_failure"]

if __name__ == "__main__":
    main(entries)
