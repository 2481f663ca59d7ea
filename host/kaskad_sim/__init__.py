"""Host-side simulated KASKAD-1-MT (never copied to the board).

- `frame`: an independent MIRTEK frame implementation (CRC8, stuffing, build/parse, stream scanner)
- `meter.SimMeter`: the meter model, with an audit log and fault injection
- `wire.SimWire`: the optical path in virtual time, for the host UART stand-in
- `pty_meter.PtyMeter`: the meter on a real pseudo-terminal, in real time (any family)
- `kaskad_11_c1.SimKaskad11`, `mercury_206.SimMercury206`, `ce_102m.SimCe102m`: the other meter
  families, on the shared `sim_base.SimFamilyMeter`; `families`: family name -> model and line
"""
from .frame import (Frame, FrameError, build_request, decode_frame, mirtek_crc8, split_frames,
                    stuff, unstuff)
from .meter import FAULTS, READ_ONLY_COMMANDS, SimMeter
from .wire import SimWire

__all__ = ["FAULTS", "READ_ONLY_COMMANDS", "Frame", "FrameError", "SimMeter", "SimWire",
           "build_request", "decode_frame", "mirtek_crc8", "split_frames", "stuff", "unstuff"]
