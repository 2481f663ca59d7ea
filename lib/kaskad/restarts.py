"""Restarts that come too fast: counted where a reset does not erase them, so a board that keeps
resetting (a loop that hangs again and again, a crash at every boot) slows down instead of
storming, without wearing the flash.

The count lives in two bytes of ``alarm.sleep_memory``: RAM the nRF52840 port keeps across every
reset that leaves the chip powered (ports/nordic/common-hal/alarm/SleepMemory.c puts it in the
``.uninitialized`` section behind a guard word) and clears at power-on. ``microcontroller.nvm``
would keep it too, but each write erases a flash page (10 000 erases each), and the NVM's two
pages belong to the record store.

A start after a reset (``supervisor.RunReason.STARTUP``) counts; a reload does not (someone
edited a file or pressed Ctrl-D). A start that got as far as a good reading of the meter clears
the count only when it comes ``HEALTHY_MS`` or more after the start: a loop that reads once and
then hangs, again and again, is a storm too. From the ``FREE``-th restart in a row on, the
firmware waits ``backoff_ms`` first.
"""

MAGIC = 0x6B  # "k": the two bytes are ours
FREE = 3      # restarts in a row without any wait
FIRST_WAIT_MS = 60000
LONGEST_WAIT_MS = 3600000
HEALTHY_MS = 600000  # a good reading this long after the start ends a run of restarts


def count(memory):
    """Restarts in a row so far (0 if the memory holds no count of ours)."""
    return memory[1] if memory[0] == MAGIC else 0


def note(memory):
    """One more restart in a row; returns the new count (at most 255)."""
    n = count(memory) + 1
    if n > 255:
        n = 255
    memory[0:2] = bytes((MAGIC, n))
    return n


def clear(memory):
    if count(memory):
        memory[0:2] = bytes((MAGIC, 0))


def backoff_ms(n):
    """How long to wait before the ``n``-th restart in a row starts: nothing for the first
    ``FREE``, then one minute, doubling, at most an hour."""
    if n <= FREE:
        return 0
    shift = n - FREE - 1
    if shift > 6:
        return LONGEST_WAIT_MS
    wait = FIRST_WAIT_MS << shift
    return wait if wait < LONGEST_WAIT_MS else LONGEST_WAIT_MS
