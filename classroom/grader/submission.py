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

import collections
import hashlib
import os
import stat
from pathlib import Path

COPIED = ("cs231n_bn", "notebooks", "datasets")  # what a job may need from a submission
MAX_FILE = 20 * 2**20
MAX_TOTAL = 200 * 2**20
MAX_FILES = 5000
MAX_ENTRIES = 50_000  # names listed in all (files and folders), whatever they are
MAX_DEPTH = 12
MAX_PROBLEMS = 20  # problems named one by one; the rest are counted by kind
SKIPPED_DIRS = {".git", ".venv", "venv", "__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis"}


class _Budget:
    """What the copy has used so far, and the problems met (named up to MAX_PROBLEMS)."""

    def __init__(self):
        self.bytes = self.files = self.entries = 0
        self.problems = []
        self.unnamed = collections.Counter()  # kind of problem -> how many were not named

    def problem(self, kind, sentence):
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(sentence)
        else:
            self.unnamed[kind] += 1

    def report(self):
        more = [f"... and {n} more entries {kind}: ignored" for kind, n in sorted(self.unnamed.items())]
        return self.problems + more


def snapshot(copy, dest):
    """Copy the regular files of copy/{cs231n_bn,notebooks,datasets} to dest.

    Folders are walked breadth first (a folder's files before its subfolders), so the
    modules and notebooks come before anything deep; at most MAX_ENTRIES names are
    listed and MAX_FILES files copied, and a folder is created only when a file goes in
    it, so a submission of 100,000 empty folders costs a bounded walk, not 100,000 mkdirs.

    Returns the problems met (sentences naming the file, at most MAX_PROBLEMS of them plus
    one count per kind), which the report shows; nothing raises for a bad entry.
    """
    copy, dest = Path(copy), Path(dest)
    budget = _Budget()
    dest.mkdir(parents=True, exist_ok=True)
    queue = collections.deque()
    for top in COPIED:
        try:
            info = os.lstat(copy / top)
        except OSError:
            continue  # absent: the grader reports missing modules and notebooks by name
        if stat.S_ISDIR(info.st_mode):
            queue.append((Path(top), 0))
        else:
            budget.problem("that are not folders", f"{top} is not a folder: ignored")
    while queue:
        rel, depth = queue.popleft()
        if depth > MAX_DEPTH:
            budget.problem("nested too deeply", f"{rel.as_posix()}: folders nested too deeply: ignored")
            continue
        subfolders = _copy_folder(copy, dest, rel, budget)
        queue.extend((sub, depth + 1) for sub in subfolders)
        if budget.entries >= MAX_ENTRIES:
            budget.problem("beyond the limit", f"more than {MAX_ENTRIES} files and folders in the submission: "
                                               f"the rest is ignored")
            break
    return budget.report()


def _copy_folder(root, dest, rel, budget):
    """Copy the regular files directly in root/rel; returns its subfolders (relative)."""
    try:
        with os.scandir(root / rel) as listing:
            entries = []
            for entry in listing:
                budget.entries += 1
                if budget.entries > MAX_ENTRIES:
                    break
                entries.append(entry)
    except OSError as err:
        budget.problem("that cannot be listed", f"{rel.as_posix()}: cannot be listed ({err.strerror}): ignored")
        return []
    subfolders = []
    for entry in sorted(entries, key=lambda e: e.name):
        name = rel / entry.name
        try:
            if entry.is_symlink():
                budget.problem("that are symbolic links", f"{name.as_posix()} is a symbolic link: ignored")
            elif entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIPPED_DIRS:
                    subfolders.append(name)
            elif entry.is_file(follow_symlinks=False):
                _copy_file(root / name, dest / name, name, budget)
            else:
                budget.problem("that are not regular files",
                               f"{name.as_posix()} is not a regular file (a FIFO, socket or device): ignored")
        except OSError as err:
            budget.problem("that cannot be read", f"{name.as_posix()}: cannot be read ({err.strerror}): ignored")
    return subfolders


def _copy_file(source, target, rel, budget):
    if budget.files >= MAX_FILES:
        budget.problem("beyond the file limit", f"{rel.as_posix()}: more than {MAX_FILES} files in the submission: "
                                                f"ignored")
        return
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        budget.problem("that cannot be opened", f"{rel.as_posix()}: cannot be opened ({err.strerror}): ignored")
        return
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):  # swapped for something else since it was listed
            budget.problem("that are not regular files", f"{rel.as_posix()} is not a regular file: ignored")
            return
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE or budget.bytes + len(data) > MAX_TOTAL:
        budget.problem("that are too large", f"{rel.as_posix()}: larger than the grader accepts "
                                             f"({MAX_FILE // 2**20} MiB per file, {MAX_TOTAL // 2**20} MiB in all): "
                                             f"ignored")
        return
    budget.bytes += len(data)
    budget.files += 1
    target.parent.mkdir(parents=True, exist_ok=True)
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
