"""Execute a recipes/ notebook in its TINY mode in a kernel of this interpreter: run_notebook.py NB WORK_DIR."""

import os
import sys

import nbformat
from nbclient import NotebookClient

path, work_dir = sys.argv[1:3]
nb = nbformat.read(path, as_version=4)
(cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
cell.source += f"\n\nTINY = True\nWORK_DIR = {work_dir!r}\n"
os.makedirs(work_dir, exist_ok=True)
NotebookClient(nb, kernel_name="python3", timeout=600, startup_timeout=120,
               resources={"metadata": {"path": work_dir}}).execute()
print(f"{os.path.basename(path)}: executed (TINY) in {work_dir}")
