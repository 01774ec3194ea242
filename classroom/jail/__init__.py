"""The script that runs inside a grading job's sandbox, beside the student's code.

worker.py is not imported from here: the grader copies it, with classroom/wire.py,
into the job's folder (grader/sandbox.py, copy_jail_script), where it runs as a script
and imports `wire` beside it. It imports no course code and nothing of the grader.
"""
