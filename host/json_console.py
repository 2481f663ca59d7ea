"""A console sink for the PC runner's --json mode: one JSON object per line.

The contract other tools rely on:
  {"type": "reading", "t": s, "family": "mercury-206", "address": n, "energy_wh": [t1, t2, t3, t4],
   "total_wh": n, "voltage_cv": n, "current_ma": n, "power_cw": n, "apparent_power_cva": n,
   "battery_pct": n, "serial": "...", "made": "YYYY-MM-DD", "model": "...", "generation": "...",
   "flags": {"magnet_ac": true, ...}, "stale": [...]}
   (flags by meaning, kaskad.reading.FLAG_NAMES: null where the meter does not report the flag;
   "generation" is "model" under its first name)
  {"type": "error", "t": s, "what": "..."}
  {"type": "info", "t": s, "text": "..."}
  {"type": "advert", "t": s, "adv": "<hex>", "scan": "<hex>", "address": "AA:BB:CC:DD:EE:FF",
   "ha": {"energy_1": 1234.56, ...}}   (each time an advertisement goes on air, with what
   Home Assistant's own parser made of it)
  {"type": "safe_mode", "t": s, "reason": "WATCHDOG", "text": "Internal watchdog timer expired."}
   (the board booted into safe mode: supervisor.SafeModeReason's name and the board's message)
  {"type": "supervisor", "t": s, "event": "reset|reload|code_done|traceback|output|repl|hang", ...}
   (what the board's supervisor did between runs of code.py; the event's own fields follow)
null where unknown, or older than KASKAD_MAX_AGE_SECONDS. "t" is seconds since start.
"""

import json
import sys

from kaskad import console, reading as fields


class JsonSink:
    def __init__(self, out=None):
        self.out = out or sys.stdout

    def _emit(self, obj):
        self.out.write(json.dumps(obj) + "\n")
        self.out.flush()

    def reading(self, uptime_ms, now_ms, reading, max_age_ms, fields_):
        def value(field):
            return reading.get(field, now_ms, max_age_ms)

        self._emit({
            "type": "reading",
            "t": uptime_ms / 1000,
            "family": reading.family,
            "address": reading.address,
            "energy_wh": [value(fields.ENERGY_T1 + i) for i in range(fields.TARIFFS)],
            "total_wh": value(fields.TOTAL),
            "voltage_cv": value(fields.VOLTAGE),
            "current_ma": value(fields.CURRENT),
            "power_cw": value(fields.POWER),
            "apparent_power_cva": value(fields.APPARENT_POWER),
            "battery_pct": value(fields.BATTERY),
            "serial": reading.serial,
            "made": reading.made,
            "model": reading.model,
            "generation": reading.model,
            "flags": dict(console.flags(reading, now_ms, max_age_ms)),
            "stale": [fields.FIELD_NAMES[f] for f in fields_ if reading.is_stale(f, now_ms, max_age_ms)],
        })

    def error(self, uptime_ms, what):
        self._emit({"type": "error", "t": uptime_ms / 1000, "what": what})

    def info(self, uptime_ms, text):
        self._emit({"type": "info", "t": uptime_ms / 1000, "text": text})

    def advert(self, t_s, adv, scan, address, values):
        self._emit({"type": "advert", "t": t_s, "adv": adv.hex(), "scan": scan.hex(),
                    "address": address, "ha": values})

    def safe_mode(self, t_s, reason, text):
        self._emit({"type": "safe_mode", "t": t_s, "reason": reason, "text": text})

    def supervisor(self, t_s, event, fields):
        line = {"type": "supervisor", "t": t_s, "event": event}
        line.update(fields)
        self._emit(line)
