# Runs on the MicroPython VM: the restart counter and its back-off in the common subset, over a
# plain bytearray standing in for alarm.sleep_memory (the strict stand-in is tested on CPython).
from kaskad import restarts

memory = bytearray(256)
assert restarts.count(memory) == 0
waits = []
for _ in range(12):
    waits.append(restarts.backoff_ms(restarts.note(memory)))
assert waits[:3] == [0, 0, 0], waits
assert waits[3:8] == [60000, 120000, 240000, 480000, 960000], waits
assert waits[-1] == restarts.LONGEST_WAIT_MS and max(waits) == restarts.LONGEST_WAIT_MS
restarts.clear(memory)
assert restarts.count(memory) == 0 and restarts.backoff_ms(restarts.note(memory)) == 0
memory[0] = 0x00  # not our bytes: no count
assert restarts.count(memory) == 0
for _ in range(300):
    restarts.note(memory)
assert restarts.count(memory) == 255
print("ok")
