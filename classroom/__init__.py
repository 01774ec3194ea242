"""The instructors' classroom tools, kept outside the package students receive.

    python -m classroom release DEST
    python -m classroom grade COPY [--json OUT]

Each subpackage is named by the side it runs on:

- edition/: builds the student edition (release.py; regions.py finds nbgrader's solution and
  hidden-test regions; leaks.py finds solution lines visible elsewhere; exercises.py lists
  the package exercises)
- grader/: the trusted grading process (grade.py, the autograder; judge.py runs an
  instructor's check against a proxy of the student's code; student_process.py is the
  grader's end of the pipe; sandbox.py starts each job under bubblewrap and limits;
  submission.py copies a submission and fingerprints the checkout; replay.py verifies some
  notebook check cells outside the kernel)
- jail/: the only code that enters the sandbox, beside the student's code (worker.py, the
  job's end of the pipe; run_notebook.py, a notebook run); it imports no course code
- wire.py: the data-only frames that cross the pipe; loaded on both sides, so it imports
  only the standard library and numpy
"""
