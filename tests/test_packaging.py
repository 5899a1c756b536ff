"""An installed (non-editable) wheel must find its suites and schemas."""

import subprocess
import sys

from tests.conftest import REPO


def test_installed_wheel_finds_bundled_data(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(wheels), str(REPO)], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("t2i_audit-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True)
    code = ("import audit.paths as p, audit.suites as s;"
            "assert str(p.probes_dir()).startswith(sys.argv[1]), p.probes_dir();"
            "print(sorted(x.name for x in s.list_suites()));"
            "print((p.package_data_dir() / 'reference/bls-cps-2025.csv').is_file())")
    out = subprocess.run([sys.executable, "-c", "import sys;" + code, str(target)],
                         cwd=tmp_path, env={"PYTHONPATH": str(target)}, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert "'occupations'" in out.stdout and "'smoke'" in out.stdout
    assert out.stdout.strip().endswith("True")


def test_no_api_function_shares_its_name_with_a_module():
    """Importing audit.X binds X on the package, so a module named like an
    API function would replace the function once anything imported it."""
    import importlib.util

    import audit

    shared = [name for name in audit.__all__ if importlib.util.find_spec(f"audit.{name}")]
    assert not shared, shared
