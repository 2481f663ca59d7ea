"""Mutation run: plant each bug of tools/mutations.txt in a copy of the tree, run the tests named
for it, and count the bugs the tests catch (the kill rate).

    python tools/mutate.py [--root DIR] [--only ID,ID] [--timeout S] [--table FILE]

``--root`` is the tree to mutate and test (default: this repository); give an exported older
commit to measure its tests (``git archive COMMIT | tar -x -C DIR``). The tree is copied to a
scratch folder, so the working tree is never touched. A mutation whose code does not occur
exactly once in the tree is "not applicable" and not counted; a test file the tree lacks is
left out. A mutant is killed when its tests fail or run past the timeout (a hang).

Runs one mutant at a time (the machine is shared): about a minute per ten mutants.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PYTEST = os.path.join(REPO, ".venv", "bin", "pytest")
COPIED = ("code.py", "settings.toml", "pytest.ini", "lib", "host", "tests")


class Mutation:
    def __init__(self, ident, path, before, after, tests):
        self.ident = ident
        self.path = path
        self.before = before
        self.after = after
        self.tests = tests


def read_table(path):
    """The table's rows: ``id | file | code | bug | tests``; ``\\n`` a line break, ``\\|`` a pipe."""
    rows = []
    with open(path, encoding="utf-8") as table:
        for number, line in enumerate(table, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cells = [c.strip().replace("\0", "|").replace("\\n", "\n")
                     for c in line.replace("\\|", "\0").split(" | ")]
            if len(cells) != 5:
                sys.exit("%s:%d: expected 5 cells separated by ' | ', got %d" % (path, number, len(cells)))
            rows.append(Mutation(cells[0], cells[1], cells[2], cells[3], cells[4].split()))
    return rows


def run_tests(tree, tests, timeout):
    """'pass', 'fail' or 'timeout' for these test files in ``tree``."""
    command = [PYTEST, "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts="] + \
              [os.path.join("tests", t) for t in tests]
    try:
        done = subprocess.run(command, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "pass" if done.returncode == 0 else "fail"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=REPO, help="the tree to mutate (default: this repository)")
    parser.add_argument("--table", default=os.path.join(HERE, "mutations.txt"))
    parser.add_argument("--only", help="comma-separated mutation ids")
    parser.add_argument("--timeout", type=float, default=240, help="seconds before a mutant counts as a hang")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the unmutated run of every test file (when make test just passed)")
    args = parser.parse_args(argv)
    mutations = read_table(args.table)
    if args.only:
        wanted = set(args.only.split(","))
        mutations = [m for m in mutations if m.ident in wanted]
    started = time.monotonic()
    scratch = tempfile.mkdtemp(prefix="kaskad-mutation-")
    try:
        for name in COPIED:
            source = os.path.join(args.root, name)
            target = os.path.join(scratch, name)
            if os.path.isdir(source):
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
            elif os.path.exists(source):
                shutil.copy2(source, target)
        every_test = sorted({t for m in mutations for t in m.tests
                             if os.path.exists(os.path.join(scratch, "tests", t))})
        baseline = "pass" if args.no_baseline else run_tests(scratch, every_test, args.timeout * 4)
        if baseline != "pass":
            sys.exit("the unmutated tree fails its tests (%s): %s" % (baseline, " ".join(every_test)))
        killed, survivors, skipped = [], [], []
        for m in mutations:
            path = os.path.join(scratch, m.path)
            original = ""
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    original = f.read()
            tests = [t for t in m.tests if os.path.exists(os.path.join(scratch, "tests", t))]
            if original.count(m.before) != 1 or not tests:
                skipped.append(m)
                print("n/a       %-20s (%s)" % (m.ident, "code not found once" if tests else "no tests"),
                      flush=True)
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(original.replace(m.before, m.after))
            try:
                outcome = run_tests(scratch, tests, args.timeout)
            finally:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(original)
            (survivors if outcome == "pass" else killed).append(m)
            print("%-9s %-20s %s: %s" % ("SURVIVED" if outcome == "pass" else "killed", m.ident, m.path,
                                        " ".join(tests)), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    counted = len(killed) + len(survivors)
    print()
    for m in survivors:
        print("survivor: %s  %s: %r -> %r" % (m.ident, m.path, m.before, m.after))
    print("kill rate: %d of %d mutants killed (%.0f %%); %d not applicable; %.0f s" % (
        len(killed), counted, 100.0 * len(killed) / counted if counted else 0.0, len(skipped),
        time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
