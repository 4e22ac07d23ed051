"""The package builds into an artifact that a fresh directory can import.

With a build backend available offline (setuptools and wheel, as Debian's
python3-setuptools and python3-wheel give /usr/bin/python3), it builds a wheel
with `pip wheel --no-deps --no-build-isolation`, installs it into a fresh venv
and imports it from an unrelated directory. Without one (PyPI is not reachable
here, so pip cannot fetch the backend), it does the closest honest check: zips
the source tree and imports the package from the zip in a fresh directory, and
says so. BATON_PACKAGING=wheel makes a missing backend a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORT_CHECK = (
    "import baton, baton.models, pathlib, sys\n"
    "p = pathlib.Path(baton.__file__).parent\n"
    "assert (p / 'py.typed').exists() or '.zip' in str(p), 'py.typed missing'\n"
    "assert baton.Client and baton.verify_webhook and baton.models.Run\n"
    "print(baton.__version__, p)\n"
)


def has_backend(python: str) -> bool:
    probe = "import setuptools, wheel, pip"
    return subprocess.run([python, "-c", probe], capture_output=True, check=False).returncode == 0


def builders() -> list[str]:
    found = []
    for candidate in (sys.executable, "/usr/bin/python3"):
        if candidate and os.path.exists(candidate) and candidate not in found:
            found.append(candidate)
    return [p for p in found if has_backend(p)]


def run(args: list[str], cwd: str) -> str:
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout


class PackagingTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="baton-pkg-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # Build from a copy, so the source tree gets no build/ or egg-info.
        self.src = os.path.join(self.tmp, "src")
        os.mkdir(self.src)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, self.src)
        shutil.copytree(ROOT / "baton", os.path.join(self.src, "baton"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        self.fresh = os.path.join(self.tmp, "fresh")
        os.mkdir(self.fresh)

    def test_artifact_imports_in_a_fresh_directory(self) -> None:
        pythons = builders()
        if pythons:
            self.wheel_check(pythons[0])
            return
        if os.environ.get("BATON_PACKAGING") == "wheel":
            self.fail("no python3 with setuptools, wheel and pip (apt-get install python3-setuptools python3-wheel)")
        self.zip_check()

    def wheel_check(self, python: str) -> None:
        dist = os.path.join(self.tmp, "dist")
        run([python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
             "-w", dist, self.src], self.tmp)
        wheels = sorted(Path(dist).glob("baton_client-*.whl"))
        self.assertEqual(len(wheels), 1, wheels)
        names = zipfile.ZipFile(wheels[0]).namelist()
        self.assertIn("baton/py.typed", names)
        self.assertIn("baton/models.py", names)
        venv = os.path.join(self.tmp, "venv")
        run([python, "-m", "venv", "--without-pip", venv], self.tmp)
        vpy = os.path.join(venv, "bin", "python")
        run([python, "-m", "pip", "--python", vpy, "install", "-q", "--no-index", "--no-deps", str(wheels[0])],
            self.tmp)
        out = run([vpy, "-I", "-c", IMPORT_CHECK], self.fresh)
        self.assertIn("site-packages", out)
        print(f"packaging: built {wheels[0].name} with {python} (pip wheel --no-build-isolation), "
              f"installed it into a fresh venv, imported: {out.strip()}", file=sys.stderr)

    def zip_check(self) -> None:
        archive = os.path.join(self.tmp, "baton-client-src.zip")
        run([sys.executable, "-m", "zipfile", "-c", archive, os.path.join(self.src, "baton")], self.tmp)
        env = dict(os.environ, PYTHONPATH=archive)
        out = subprocess.run([sys.executable, "-c", IMPORT_CHECK], cwd=self.fresh, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(out.returncode, 0, out.stderr)
        print("packaging: NO build backend (setuptools + wheel) here; zipped the source tree and "
              f"imported it from the zip in a fresh directory: {out.stdout.strip()}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
