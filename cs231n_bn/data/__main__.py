"""Command line: `python -m cs231n_bn.data download-cifar10 [--root FOLDER]`."""

import argparse
import sys

from cs231n_bn.data.cifar10 import download_cifar10
from cs231n_bn.data.errors import DATASETS_DIR, DatasetError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cs231n_bn.data", description="Fetch the course's datasets.")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser(
        "download-cifar10",
        description="Download CIFAR-10 (python version, ~170 MB) over HTTPS, verify its published MD5 before use, and extract it safely into ROOT/cifar-10-batches-py.",
        help="download CIFAR-10 (python version, ~170 MB) over HTTPS, verify its MD5, extract it safely",
    )
    fetch.add_argument("--root", default=DATASETS_DIR, help=f"destination folder (default: {DATASETS_DIR})")
    args = parser.parse_args(argv)
    try:
        folder = download_cifar10(args.root)
    except DatasetError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"CIFAR-10 verified and extracted to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
