"""nbgrader's configuration for this course (README: "Grading with nbgrader").

make_source.py copies this file into the course directory. nbgrader reads it from there,
when it is run in that directory.

The point of it: `nbgrader autograde` replaces every file of a submission, except the
notebooks, with the version in source/ASSIGNMENT/, before it runs the notebooks. Left at
that, the check cells would test whatever package source/ holds, not the student's. So the
files that hold the student's package exercises are excluded from that overwrite (they are
the files named in cs231n_bn/checks/registry.py); every other file of the package,
the check functions in cs231n_bn/checks.py included, is put back to the released version.

The notebooks then import the package that lies beside them: IPython puts the notebook's
folder on sys.path ahead of the installed packages, but behind PYTHONPATH. A PYTHONPATH that
holds a cs231n_bn (an instructor's checkout, say) would be graded instead of the student's,
so this file refuses to run with one.
"""

import os
from pathlib import Path

from jupyter_core.paths import jupyter_runtime_dir

from cs231n_bn.checks.registry import PACKAGE_EXERCISES

shadowing = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p, "cs231n_bn").is_dir()]
if shadowing:
    raise RuntimeError(
        f"nbgrader_config.py: PYTHONPATH holds a cs231n_bn package ({', '.join(shadowing)}), which the "
        f"graded notebooks would import instead of the student's; unset PYTHONPATH and run nbgrader again"
    )

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

c.CourseDirectory.course_id = "cs231n_bn"
STUDENT_FILES = sorted({f"cs231n_bn/{exercise.module}" for exercise in PACKAGE_EXERCISES})
# One entry per assignment that make_source.py has written into source/.
source = Path(__file__).resolve().parent / "source"
assignments = sorted(p.name for p in source.iterdir() if p.is_dir()) if source.is_dir() else []
c.Autograde.exclude_overwriting = {name: STUDENT_FILES for name in assignments}
# nbgrader's default of 30 s per cell is tight for the training cells of notebooks 5-7.
c.Execute.timeout = 300
# The kernels that autograde starts talk to nbgrader over local sockets (IPC) rather than TCP:
# nothing to eavesdrop on, and ipykernel's "Kernel is running over TCP without encryption"
# warning, printed once per kernel start, stays out of the log. The sockets' path must be
# absolute: the default, "kernel-ipc", is relative, and the kernel runs in the notebook's
# folder while nbgrader connects from the course's, so the two would never meet. One prefix
# per nbgrader process, in Jupyter's runtime folder (jupyter_client numbers the sockets).
c.KernelManager.transport = "ipc"
os.makedirs(jupyter_runtime_dir(), exist_ok=True)
c.KernelManager.ip = os.path.join(jupyter_runtime_dir(), f"nbgrader-{os.getpid()}-ipc")
