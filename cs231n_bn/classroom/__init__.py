"""The classroom tools: build the student edition of the course, and grade copies offline.

    python -m cs231n_bn.classroom release DEST
    python -m cs231n_bn.classroom grade COPY [--json OUT]
"""
