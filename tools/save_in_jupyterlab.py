"""Open every notebook in JupyterLab, save it without an edit, and report which files changed.

    /work/venv-look/bin/python tools/save_in_jupyterlab.py NOTEBOOK_DIR [--jupyter .venv/bin/jupyter]

A maintainer's tool, with the same needs as look_in_jupyterlab.py (Debian's Chromium and
Playwright in an environment of its own). A stored notebook must come back from JupyterLab
byte for byte: otherwise merely opening one modifies the student's checkout (and a release
then leaves the "uncommitted" notebook out). The usual culprit is metadata JupyterLab
rewrites on save, such as the kernelspec's display name. Point it at a copy of the
notebooks: JupyterLab writes into NOTEBOOK_DIR. Exits 1 if any notebook changed.
"""

import argparse
import secrets
import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from look_in_jupyterlab import WIDE, free_port, open_notebook, settings_dir, start_lab


def save(page, path):
    """Save the notebook on show through JupyterLab's own command, as Ctrl+S does, and wait
    until the file on disk has been written."""
    written = path.stat().st_mtime_ns
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    for _ in range(60):
        if path.stat().st_mtime_ns != written:
            page.wait_for_timeout(500)
            return
        page.wait_for_timeout(500)
    raise RuntimeError(f"JupyterLab did not write {path.name} within 30 s of the save command")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebook_dir", type=Path)
    parser.add_argument("--jupyter", default=".venv/bin/jupyter", help="the course environment's jupyter")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    root = args.notebook_dir.resolve()
    paths = sorted(root.glob("*.ipynb"))
    if not paths:
        parser.error(f"no notebooks in {root}")
    before = {path: path.read_bytes() for path in paths}
    port, token, settings = free_port(), secrets.token_hex(16), settings_dir()
    lab = start_lab(args.jupyter, root, port, token, settings)
    changed = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            for number, path in enumerate(paths):
                page = browser.new_page(viewport=WIDE, device_scale_factor=1)
                open_notebook(page, port, token, path.name, f"save-{number}")
                save(page, path)
                page.close()
                same = path.read_bytes() == before[path]
                print(f"{path.name}: {'unchanged' if same else 'CHANGED by opening and saving'}", flush=True)
                if not same:
                    changed.append(path.name)
            browser.close()
    finally:
        lab.terminate()
        lab.wait(timeout=30)
        shutil.rmtree(settings, ignore_errors=True)
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
