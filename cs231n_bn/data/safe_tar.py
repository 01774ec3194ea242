"""Extract a .tar.gz into one folder, refusing anything that could write outside it.

tarfile's extractall trusts member names and link targets: a member called
"../../.bashrc", an absolute path, or a symlink followed by a file written "through" it
lands outside the destination. Here every member is checked before a single byte is
written, only regular files and folders are accepted, and files are written by
copying their bytes (never by tarfile's extraction, which would also restore modes,
owners and times from the archive). Nothing is written or deleted through a symbolic
link planted in the destination folder: such a link is refused.
"""

import shutil
import tarfile
from pathlib import Path, PurePosixPath

from cs231n_bn.data.errors import DatasetIntegrityError, refuse_symlink

# The published CIFAR-10 archive holds 8 files, the largest (each data batch) 31,035,704
# bytes; a member or a count well beyond that is no CIFAR-10 (a tiny archive can declare a
# 1 GiB member of zeros, which gzip compresses a thousand times).
MAX_MEMBER_BYTES = 64 * 2**20
MAX_MEMBERS = 100


def checked_members(where, tar, top_folder, max_bytes=MAX_MEMBER_BYTES, max_members=MAX_MEMBERS):
    """The archive's members, after checking that each is safe to extract.

    Inputs:
    - where: the calling function's name, prefix of the message
    - tar: an open tarfile.TarFile
    - top_folder: the one folder every member must lie in, e.g. "cifar-10-batches-py"
    - max_bytes: the largest size a member may declare
    - max_members: the most members the archive may hold

    Returns:
    - list of (tarfile.TarInfo, PurePosixPath relative name) pairs

    Raises DatasetIntegrityError naming the first unsafe member.
    """
    members = []
    for count, member in enumerate(tar, start=1):
        if count > max_members:
            raise DatasetIntegrityError(
                f"{where}: refusing to extract the archive: it holds more than {max_members} members "
                f"(CIFAR-10's holds 8). The archive is not the published one; delete it"
            )
        name = PurePosixPath(member.name)
        if name.is_absolute() or "\\" in member.name:
            problem = "an absolute path"
        elif any(part == ".." for part in name.parts):
            problem = "a path that climbs out of the folder with '..'"
        elif not name.parts or name.parts[0] != top_folder:
            problem = f"a path outside {top_folder}/"
        elif member.issym() or member.islnk():
            problem = f"a link (to {member.linkname!r})"
        elif not (member.isfile() or member.isdir()):
            problem = "neither a regular file nor a folder (a device or pipe)"
        elif member.size > max_bytes:
            problem = f"{member.size} bytes, more than the {max_bytes} any CIFAR-10 file needs"
        else:
            members.append((member, name))
            continue
        raise DatasetIntegrityError(
            f"{where}: refusing to extract the archive: member {member.name!r} is {problem}. "
            f"The archive is not the published one; delete it"
        )
    return members


def extract_tar_gz(where, archive, destination, top_folder):
    """Extract `archive` so that its top_folder becomes destination/top_folder.

    Files are written into a temporary sibling folder that replaces the old one only
    when everything has been written, so an interrupted run never leaves half a dataset.

    Inputs:
    - where: the calling function's name, prefix of the message
    - archive: path of a .tar.gz file
    - destination: folder to extract into
    - top_folder: the archive's single top-level folder

    Returns:
    - list of the relative names (PurePosixPath) of the regular files written
    """
    destination = Path(destination)
    final = destination / top_folder
    partial = destination / f".{top_folder}.partial"
    _remove(where, partial)  # left over from an interrupted run
    partial.mkdir(parents=True)
    written = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member, name in checked_members(where, tar, top_folder):
                target = partial.joinpath(*name.parts[1:])
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                # "x": the folder is new, so an existing file means a member named twice
                with tar.extractfile(member) as src, open(target, "xb") as dst:
                    shutil.copyfileobj(src, dst)
                written.append(name)
    except (tarfile.TarError, EOFError, OSError) as err:
        shutil.rmtree(partial, ignore_errors=True)
        raise DatasetIntegrityError(f"{where}: cannot extract {Path(archive).name} as a .tar.gz: {err}") from err
    except DatasetIntegrityError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _remove(where, final)
    partial.rename(final)
    return written


def _remove(where, path):
    """Delete the folder or file at `path` if there is one; refuse a symbolic link."""
    refuse_symlink(where, path)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
