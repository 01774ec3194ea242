"""Look at the notebooks the way a student sees them: in JupyterLab, in a real browser.

    /work/venv-look/bin/python tools/look_in_jupyterlab.py NOTEBOOK_DIR OUT_DIR \
        [--jupyter .venv/bin/jupyter] [--run] [--only 05_training_with_batchnorm.ipynb ...]

A maintainer's tool, outside the course's requirements. It needs Debian's Chromium and
Playwright's Python package in an environment of its own (no browser download: Playwright
drives /usr/bin/chromium):

    apt-get install -y chromium && python3 -m venv /work/venv-look && /work/venv-look/bin/pip install playwright

It starts JupyterLab (the course environment's `jupyter`, so the kernel imports the
course's package) on NOTEBOOK_DIR, on a free localhost port with a random token, opens
every notebook, with --run runs all its cells first (otherwise it shows what is stored),
and saves into OUT_DIR, for two layouts:

- `wide`: a 1400x1000 window with the file browser open;
- `column`: the side panel closed and the window sized so that the notebook is 900 px wide,

one full-page screenshot of the whole notebook (NAME-LAYOUT-page.png) and one screenshot
per figure or wide text output as displayed (NAME-LAYOUT-out-NN.png), the ones to read.
JupyterLab writes into NOTEBOOK_DIR (checkpoints, and --run changes the outputs): point
it at a copy.
"""

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

COLUMN_PX = 900
WIDE = {"width": 1400, "height": 1000}
RUN_TIMEOUT_S = 600


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings_dir():
    """JupyterLab user settings that render every cell (no windowing: the full-page
    screenshot must hold the whole notebook) and skip the news and update prompts."""
    folder = Path(tempfile.mkdtemp(prefix="look-settings-"))
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false", "checkForUpdates": False},
    }
    for rel, value in settings.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    return folder


def start_lab(jupyter, root, port, token, settings):
    args = [jupyter, "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTER_CONFIG_DIR=str(settings / "config"))
    log = open(Path(settings, "lab.log"), "w")
    lab = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url, timeout=2)
            return lab
        except OSError:
            if lab.poll() is not None:
                raise RuntimeError(f"jupyter lab exited; see {log.name}")
            time.sleep(0.5)
    lab.terminate()
    raise RuntimeError(f"jupyter lab did not answer on port {port} within 60 s; see {log.name}")


PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on show


def open_notebook(page, port, token, name, workspace):
    # A workspace of its own, reset: JupyterLab would otherwise reopen the last notebooks.
    page.goto(f"http://127.0.0.1:{port}/lab/workspaces/{workspace}/tree/{name}?reset&token={token}")
    page.wait_for_selector(f"{PANEL} .jp-Cell", timeout=60_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget", timeout=60_000)
    # The panel shows a spinner until the kernel is up; then MathJax and images settle.
    page.wait_for_function("""() => {
        const w = window.jupyterapp.shell.currentWidget;
        const k = w.sessionContext.session && w.sessionContext.session.kernel;
        return k && k.status === 'idle' && !document.querySelector('.jp-NotebookPanel .jp-Spinner');
    }""", timeout=120_000)
    page.wait_for_timeout(2000)


def run_all(page):
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_timeout(1000)
    deadline = time.time() + RUN_TIMEOUT_S
    while time.time() < deadline:
        busy = page.evaluate("""() => {
            const w = window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext.session && w.sessionContext.session.kernel;
            const prompts = [...document.querySelectorAll('.jp-InputPrompt')].map(p => p.textContent);
            return !k || k.status !== 'idle' || prompts.some(t => t.includes('*'));
        }""")
        if not busy:
            page.wait_for_timeout(1500)
            return
        page.wait_for_timeout(1000)
    raise RuntimeError(f"the notebook still runs after {RUN_TIMEOUT_S} s")


def set_left_panel(page, open_):
    collapsed = page.evaluate("() => window.jupyterapp.shell.leftCollapsed")
    if collapsed == open_:
        page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
        page.wait_for_timeout(500)


def notebook_width(page):
    return page.evaluate(f"() => document.querySelector('{PANEL}').getBoundingClientRect().width")


def fit_column(page):
    """Resize the window until the notebook panel is COLUMN_PX wide."""
    width = WIDE["width"]
    for _ in range(4):
        page.set_viewport_size({"width": width, "height": WIDE["height"]})
        page.wait_for_timeout(400)
        got = notebook_width(page)
        if abs(got - COLUMN_PX) < 1:
            return
        width = int(round(width + COLUMN_PX - got))


# What one output shows: its images (natural and displayed width) and, for text, the
# longest line in characters and whether it is wider than its box (JupyterLab wraps it).
DESCRIBE_OUTPUT = """(e) => {
    const images = [...e.querySelectorAll('img')].map(
        i => ({natural: i.naturalWidth, shown: Math.round(i.getBoundingClientRect().width)}));
    const pre = e.querySelector('pre');
    let chars = 0, wraps = false;
    if (pre) {
        const lines = pre.textContent.split('\\n');
        chars = Math.max(...lines.map(l => l.length));
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = getComputedStyle(pre).font;
        const longest = Math.max(...lines.map(l => ctx.measureText(l).width));
        wraps = longest > pre.clientWidth || pre.scrollWidth > pre.clientWidth;
    }
    const visible = e.getBoundingClientRect().height > 0;
    return {images, chars, wraps, table: !!e.querySelector('table'), visible};
}"""


def describe(seen):
    parts = [f"image {i['natural']} px shown at {i['shown']} px ({100 * i['shown'] / max(i['natural'], 1):.0f}%)"
             for i in seen["images"]]
    if seen["chars"]:
        parts.append(f"text, longest line {seen['chars']} characters" + (", wraps" if seen["wraps"] else ""))
    if seen["table"]:
        parts.append("HTML table")
    return "; ".join(parts)


def shoot(page, out, stem):
    """The whole notebook in one image, then every figure, table and wrapping text output.
    Returns one line per saved output: its file name and what it shows."""
    height = page.evaluate(f"""() => Math.max(...[
        '{PANEL} .jp-WindowedPanel-outer', '{PANEL} .jp-WindowedPanel-inner',
        '{PANEL} .jp-Notebook'].map(s => document.querySelector(s))
        .filter(e => e).map(e => e.scrollHeight))""")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 200, 30000)})
    page.wait_for_timeout(800)
    page.screenshot(path=str(out / f"{stem}-page.png"))
    outputs = page.locator(f"{PANEL} .jp-OutputArea-output")
    lines = []
    for index in range(outputs.count()):
        output = outputs.nth(index)
        seen = output.evaluate(DESCRIBE_OUTPUT)
        if not seen["visible"] or not (seen["images"] or seen["wraps"] or seen["table"]):
            continue
        name = f"{stem}-out-{len(lines) + 1:02d}.png"
        output.screenshot(path=str(out / name), timeout=10_000)
        lines.append(f"{name}: {describe(seen)}")
    page.set_viewport_size(size)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebook_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--jupyter", default=".venv/bin/jupyter", help="the course environment's jupyter")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--run", action="store_true", help="run all cells before looking (default: as stored)")
    parser.add_argument("--only", nargs="*", help="notebook file names to look at (default: all)")
    args = parser.parse_args(argv)
    root = args.notebook_dir.resolve()
    names = args.only or sorted(p.name for p in root.glob("*.ipynb"))
    if not names:
        parser.error(f"no notebooks in {root}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    port, token, settings = free_port(), secrets.token_hex(16), settings_dir()
    lab = start_lab(args.jupyter, root, port, token, settings)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            for number, name in enumerate(names):
                page = browser.new_page(viewport=WIDE, device_scale_factor=1)
                open_notebook(page, port, token, name, f"look-{number}")
                if args.run:
                    started = time.time()
                    run_all(page)
                    print(f"{name}: ran every cell in {time.time() - started:.0f} s", flush=True)
                stem = Path(name).stem
                set_left_panel(page, open_=True)
                seen = [f"{name}: wide layout, notebook {notebook_width(page):.0f} px"]
                seen += shoot(page, args.out_dir, f"{stem}-wide")
                set_left_panel(page, open_=False)
                fit_column(page)
                seen.append(f"{name}: column layout, notebook {notebook_width(page):.0f} px")
                seen += shoot(page, args.out_dir, f"{stem}-column")
                with open(args.out_dir / "index.txt", "a", encoding="utf-8") as index:
                    index.write("\n".join(seen) + "\n")
                print("\n".join(seen), flush=True)
                page.close()
            browser.close()
    finally:
        lab.terminate()
        lab.wait(timeout=30)
        shutil.rmtree(settings, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
