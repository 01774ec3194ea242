"""The instructors' classroom tools, kept outside the package students receive.

    python -m classroom release DEST
    python -m classroom grade COPY [--json OUT]
    python -m classroom grade SUBMISSIONS --jobs 2 --out GRADES   (a class)
    python -m classroom report GRADES
    python -m classroom gradescope ZIP

Each subpackage is named by the side it runs on:

- edition/: builds the student edition (release.py; regions.py finds nbgrader's solution and
  hidden-test regions; leaks.py finds solution lines visible elsewhere)
- grader/: the trusted grading process (grade.py, the autograder, one verdict per row of
  cs231n_bn/checks/registry.py; judge.py runs a package exercise's check against a proxy of
  the student's code; notebook_jobs.py runs a notebook's solution cells in a job and its
  checks here; notebook_reference.py gives those checks the instructor's values;
  student_process.py is the grader's end of the pipe; sandbox.py starts each job under
  bubblewrap and limits; submission.py copies a submission and fingerprints the checkout;
  many.py grades a class, one grader process per copy; class_report.py summarizes it;
  gradescope.py writes and runs the Gradescope autograder; plain.py escapes report text)
- jail/: the only code that enters the sandbox, beside the student's code (worker.py, the
  job's end of the pipe); it imports no course code
- wire.py: the data-only frames that cross the pipe; loaded on both sides, so it imports
  only the standard library and numpy
"""
