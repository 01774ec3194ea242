"""The classroom tools: build the student edition of the course, and grade copies offline.

    python -m cs231n_bn.classroom release DEST
    python -m cs231n_bn.classroom grade COPY [--json OUT]

- regions.py: find the `### BEGIN SOLUTION` / `### BEGIN HIDDEN TESTS` regions (nbgrader's words)
- exercises.py: the package exercises, each with its notebook and its check
- release.py: write the student edition (stubs, cleared notebooks)
- leaks.py: which solution lines can be seen where (the evidence for "no leaks")
- grade.py: the autograder; sandbox.py runs each of its jobs under time and memory limits,
  run_check.py and run_notebook.py are those jobs
"""
