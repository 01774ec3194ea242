"""The scripts that run inside a grading job's sandbox, beside the student's code.

They are not imported from here: the grader copies one of them, with classroom/wire.py,
into the job's folder (grader/sandbox.py, copy_jail_script), where it runs as a script
and imports `wire` beside it. They import no course code and nothing of the grader.
"""
