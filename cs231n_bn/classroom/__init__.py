"""The classroom tools: build the student edition of the course, and grade copies offline.

    python -m cs231n_bn.classroom release DEST
    python -m cs231n_bn.classroom grade COPY [--json OUT]

- regions.py: find the `### BEGIN SOLUTION` / `### BEGIN HIDDEN TESTS` regions (nbgrader's words)
- exercises.py: the package exercises, each with its notebook and its check
- release.py: write the student edition (stubs, cleared notebooks)
- leaks.py: which solution lines can be seen where (the evidence for "no leaks")
- grade.py: the autograder. judge.py runs an instructor's check here against a proxy of
  the student's code; student_process.py and worker.py are the two ends of the pipe
  (wire.py: what crosses it, data only); sandbox.py starts each job under bubblewrap and
  limits; submission.py copies a submission safely and fingerprints the checkout;
  replay.py verifies some notebook check cells outside the kernel; run_notebook.py runs a
  notebook in the sandbox
"""
