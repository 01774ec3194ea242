"""Take a safe copy of a submission, and fingerprint the instructor's checkout.

The grader never runs anything in the folder it was handed: it copies the regular files
it needs (the package and the notebooks) into a folder of its own, opening each file
without following symbolic links and without blocking, so a FIFO, a device or a link to
/dev/zero or to the instructor's files costs that one file, with a reason, and cannot
stall or exhaust the grader. Sizes are capped per file and in total.

`fingerprint(checkout)` records every file of the instructor's checkout (content hashes
for course files, size and time for the Python environment), so that the grader can
report any change a job made to it.
"""

import hashlib
import os
import stat
from pathlib import Path

COPIED = ("cs231n_bn", "notebooks", "datasets")  # what a job may need from a submission
MAX_FILE = 20 * 2**20
MAX_TOTAL = 200 * 2**20
MAX_FILES = 5000
MAX_DEPTH = 12
SKIPPED_DIRS = {".git", ".venv", "venv", "__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis"}


class _Budget:
    def __init__(self):
        self.bytes = 0
        self.files = 0


def snapshot(copy, dest):
    """Copy the regular files of copy/{cs231n_bn,notebooks,datasets} to dest.

    Returns the list of problems met (each a sentence naming the file), which the report
    shows; nothing raises for a bad entry.
    """
    copy, dest = Path(copy), Path(dest)
    problems, budget = [], _Budget()
    dest.mkdir(parents=True, exist_ok=True)
    for top in COPIED:
        _copy_tree(copy, dest, Path(top), problems, budget, 0)
    return problems


def _copy_tree(root, dest, rel, problems, budget, depth):
    source = root / rel
    try:
        info = os.lstat(source)
    except OSError:
        return  # absent: the grader reports missing modules and notebooks by name
    if stat.S_ISLNK(info.st_mode):
        problems.append(f"{rel.as_posix()} is a symbolic link: ignored")
        return
    if stat.S_ISDIR(info.st_mode):
        if depth > MAX_DEPTH:
            problems.append(f"{rel.as_posix()}: folders nested too deeply: ignored")
            return
        (dest / rel).mkdir(parents=True, exist_ok=True)
        try:
            names = sorted(os.listdir(source))
        except OSError as err:
            problems.append(f"{rel.as_posix()}: cannot be listed ({err.strerror}): ignored")
            return
        for name in names:
            if name not in SKIPPED_DIRS:
                _copy_tree(root, dest, rel / name, problems, budget, depth + 1)
        return
    if not stat.S_ISREG(info.st_mode):
        problems.append(f"{rel.as_posix()} is not a regular file (a FIFO, socket or device): ignored")
        return
    _copy_file(source, dest / rel, rel, problems, budget)


def _copy_file(source, target, rel, problems, budget):
    if budget.files >= MAX_FILES:
        problems.append(f"{rel.as_posix()}: more than {MAX_FILES} files in the submission: ignored")
        return
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        problems.append(f"{rel.as_posix()}: cannot be opened ({err.strerror}): ignored")
        return
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):  # swapped for something else since lstat
            problems.append(f"{rel.as_posix()} is not a regular file: ignored")
            return
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE or budget.bytes + len(data) > MAX_TOTAL:
        problems.append(f"{rel.as_posix()}: larger than the grader accepts ({MAX_FILE // 2**20} MiB per file, "
                        f"{MAX_TOTAL // 2**20} MiB in all): ignored")
        return
    budget.bytes += len(data)
    budget.files += 1
    target.write_bytes(data)


# ---------------------------------------------------------------------------------------
# The instructor's checkout
# ---------------------------------------------------------------------------------------

VOLATILE = {"__pycache__", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints"}
STAT_ONLY = {".venv", "venv", "objects"}  # too big to hash each time: size, mode and time


def fingerprint(checkout):
    """{relative path: (kind, mode, size, content hash or mtime)} of the whole checkout."""
    checkout = Path(checkout)
    prints = {}
    for folder, dirs, files in os.walk(checkout):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if d not in VOLATILE)
        stat_only = any(part in STAT_ONLY for part in here.relative_to(checkout).parts)
        for name in sorted(files + [d for d in dirs if (here / d).is_symlink()]):
            path = here / name
            rel = path.relative_to(checkout).as_posix()
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and not stat_only and info.st_size <= MAX_FILE:
                try:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError:
                    digest = "unreadable"
            elif stat.S_ISLNK(info.st_mode):
                digest = os.readlink(path)
            else:
                digest = info.st_mtime_ns
            prints[rel] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_size, digest)
    return prints


def changes(before, after):
    """Sorted paths added, removed or changed between two fingerprints."""
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
