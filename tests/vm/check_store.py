# Runs on the MicroPython VM: the NVM record store and the settings loader in the common subset,
# over a plain bytearray standing in for the NVM (the strict stand-in is tested on CPython).
from kaskad import settings
from kaskad.store import CounterStore, Store

nvm = bytearray(b"\xff" * 8192)
lines = []
store = Store(nvm, lines.append)
assert store.counter_end is None and lines == []
store.add_owner(bytes(range(16)))
store.set_override("KASKAD_POLL_SECONDS", 30, settings.fingerprint(60))
CounterStore(store).save(8192)
again = Store(nvm, lines.append)
assert again.counter_end == 8192 and again.owners == [bytes(range(16))]
assert again.overrides == [("KASKAD_POLL_SECONDS", 30, settings.fingerprint(60))]
assert not again.commit()

values = {"KASKAD_METER_ADDRESS": 20109, "KASKAD_POLL_SECONDS": 60, "KASKAD_BINDKEY": "00112233445566778899aabbccddeeff"}
loaded = settings.load(values.get, lines.append, ("KASKAD_METER_ADDRESS", "KASKAD_POLL_SECNDS"), again)
assert loaded.meter_address == 20109 and loaded.poll_seconds == 30
assert loaded.bindkey == bytes(range(0, 256, 17))
assert len(lines) == 1 and lines[0].startswith("KASKAD_POLL_SECNDS: unknown key"), lines
# settings.toml read as bytes, as the board's reader reads it (kaskad.settings_file)
import io
from kaskad import settings_file

said = []
scan = settings_file.scan(io.BytesIO(b"\xef\xbb\xbfKASKAD_NAME = \"x\"\r\n# \xd1\xf7\xe5\nKASKAD_METER_ADDRESS = 0x4E8D\n"
                                     b"KASKAD_METER_ADDRESS = 1\n[t]\nKASKAD_LOG = \"debug\"\n"), said.append)
assert scan.keys == ["KASKAD_METER_ADDRESS"] and scan.written["KASKAD_METER_ADDRESS"] == "0x4E8D", scan.keys
assert scan.unseen == ["KASKAD_NAME", "KASKAD_LOG"], scan.unseen
assert len(said) == 4 and "byte-order mark" in said[0] and "[section]" in said[1], said
assert "not UTF-8 on line 2" in said[2] and "set twice" in said[3], said
print("ok")
