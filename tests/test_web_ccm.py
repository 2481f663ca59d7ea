"""The page's JavaScript (clients/web) in Node's test runner: its AES-CCM and protocol code against
docs/owner-vectors.json and against cryptography's AESCCM on random cases (tests/web/ccm.test.js),
and its limits against settings.py's schema."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from kaskad import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def node():
    found = shutil.which("node")
    if found is None:
        message = "Node.js (node, 20 or newer) is needed for the page's JavaScript tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_the_javascript_ccm_matches_the_vectors_and_cryptography_in_node():
    result = subprocess.run([node(), "--test", os.path.join("tests", "web")], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=dict(os.environ, KASKAD_PYTHON=sys.executable))
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert re.search(r"^# pass 3$", out, re.M) and re.search(r"^# fail 0$", out, re.M), out[-4000:]
    random_cases = int(re.search(r"random cases checked: (\d+)", out).group(1))
    assert random_cases >= 500


def test_the_page_checks_values_with_the_limits_of_settings_toml():
    script = "const P = require('./clients/web/protocol.js'); console.log(JSON.stringify(P.LIMITS))"
    limits = json.loads(subprocess.check_output([node(), "-e", script], cwd=ROOT, text=True, timeout=60))
    assert limits, "the page checks no value"
    for key, (lowest, highest) in limits.items():
        row = settings.spec(key)
        assert row is not None, key
        assert (row[3], row[4]) == (lowest, highest), key
    # every setting the owner protocol can change is checked by the page
    assert set(limits) == {"KASKAD_METER_ADDRESS", "KASKAD_POLL_SECONDS", "KASKAD_NAME",
                           "KASKAD_ADV_INTERVAL_MS", "KASKAD_ADV_SWITCH_MS"}
