"""host/run.py's options, when they point at the wrong thing: one line on stderr that names the
option and what is wrong, exit status 2, no traceback, and the board never booted."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "host", "run.py")


def refused(*args):
    done = subprocess.run([sys.executable, RUN, "--seconds", "1", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""  # the board did not boot
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_an_nvm_file_of_the_wrong_size_is_named_and_kept(tmp_path):
    nvm = tmp_path / "nvm.bin"
    nvm.write_bytes(b"\xff" * 100)
    assert refused("--nvm", str(nvm)) == (
        "run.py: --nvm %s: holds 100 bytes, but the board's NVM is 8192 bytes (a truncated or foreign "
        "file?): give another file, or delete this one to start erased" % nvm)
    assert nvm.read_bytes() == b"\xff" * 100  # nothing lost


@pytest.mark.parametrize("where,said", [
    ("folder", "is a folder; give a file"),
    ("missing/nvm.bin", "the folder %s does not exist"),
])
def test_an_nvm_path_that_cannot_be_a_file(tmp_path, where, said):
    path = tmp_path / where
    if where == "folder":
        path.mkdir()
    line = refused("--nvm", str(path))
    assert line.startswith("run.py: --nvm %s: " % path)
    assert (said % path.parent if "%s" in said else said) in line


@pytest.mark.parametrize("port,said", [
    ("/nonexistent/ttyUSB9", "no such serial port"),
    ("/dev/null", "is not a serial port that can be opened"),
    (__file__, "is not a serial port that can be opened"),
])
def test_a_serial_path_that_is_no_serial_port(port, said):
    line = refused("--serial", port)
    assert line.startswith("run.py: --serial %s: %s" % (port, said)), line


def test_a_settings_path_that_is_a_folder_or_missing(tmp_path):
    assert refused("--settings", str(tmp_path)) == "run.py: --settings %s: not a file" % tmp_path
    assert refused("--settings", str(tmp_path / "x.toml")) == "run.py: --settings %s: no such file" % (tmp_path / "x.toml")


@pytest.mark.parametrize("seconds", ["0", "-5", "nan", "inf"])
def test_seconds_that_are_no_time_span(seconds):
    done = subprocess.run([sys.executable, RUN, "--seconds", seconds], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 2 and done.stdout == "" and "run.py: --seconds" in done.stderr, done.stderr
