"""MIRTEK's generation names and status flags, in the shape the console still prints them: the
protocol lives in kaskad.meters.kaskad_1_mt.frame."""

from kaskad.meters.kaskad_1_mt.frame import GENERATION_NAMES  # noqa: F401

# Status flags (§3): bytes 2 and 3 of the status field, MSB first as the letters are listed.
# (name, status byte index 1 or 2, bit); published with every reading.
FLAGS = (
    ("seal_terminal_open", 1, 1),  # P1
    ("seal_case_open", 1, 2),  # P2
    ("seal_module_open", 1, 3),  # P3
    ("magnet_dc", 1, 4),  # M1
    ("magnet_ac", 1, 5),  # M2
    ("emergency", 2, 5),  # ND
    ("imbalance", 2, 7),  # N
    ("relay_open", 2, 3),  # R2
)
