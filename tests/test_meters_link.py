"""The meters' byte link (kaskad.meters.link) through the strict UART stand-in, in virtual time:
deadlines in character times, the echo discarded, a torn reply retried."""

from kaskad.meters import ReplyError
from kaskad.meters import kaskad_11_c1 as family
from kaskad.meters.kaskad_11_c1 import frame
import protocol_vectors as vectors
from meter_bench import Bench, hexbytes

import pytest

OPEN_REPLY = hexbytes(vectors.reply("kaskad-11-c1", "open OK")["wire"])
OPEN = hexbytes(vectors.reply("kaskad-11-c1", "open OK")["request"])
CHAR_NS = 10 * 1_000_000_000 // family.BAUD


def open_channel(bench):
    meter = bench.meter
    size = frame.encode_request(meter._request, 32580, frame.CMD_OPEN, b"\x02000000000")
    meter.framer.expect(32580, frame.CMD_OPEN, -1, meter._request, size)
    bench.link.exchange(meter._request_view, size, meter.framer)
    return bytes(meter.framer.buf[:meter.framer.buf[0]])


@pytest.mark.parametrize("echo", [True, False])
def test_an_exchange_takes_the_physical_time_and_no_more(echo):
    bench = Bench(family, {OPEN: OPEN_REPLY}, 32580, echo=echo, delay_ms=30)
    start = bench.vclock.now_ns()
    assert open_channel(bench) == OPEN_REPLY
    floor = (len(OPEN) + len(OPEN_REPLY)) * CHAR_NS + 30_000_000
    assert floor <= bench.vclock.now_ns() - start <= floor + 2 * CHAR_NS
    assert bench.link.attempts == 1


def test_a_torn_reply_ends_after_the_gap_and_is_retried_once_the_line_is_quiet():
    replies = iter([OPEN_REPLY[:4], OPEN_REPLY])
    bench = Bench(family, {OPEN: OPEN_REPLY}, 32580, delay_ms=30, retries=1,
                  mutate=lambda request, reply: next(replies))
    start = bench.vclock.now_ns()
    assert open_channel(bench) == OPEN_REPLY
    elapsed = bench.vclock.now_ns() - start
    torn = len(OPEN) * CHAR_NS + 30_000_000 + 4 * CHAR_NS + 20 * CHAR_NS  # last byte, then a 20-char gap
    quiet = 20 * CHAR_NS  # the line must stay silent for a gap before the retry
    second = (len(OPEN) + len(OPEN_REPLY)) * CHAR_NS + 30_000_000
    assert torn + quiet + second <= elapsed <= torn + quiet + second + 4 * CHAR_NS
    assert bench.link.attempts == 2 and bench.requests() == [OPEN, OPEN]


def test_silence_ends_at_the_reply_timeout_and_names_it():
    bench = Bench(family, {}, 32580, retries=0, reply_timeout_ms=200)
    start = bench.vclock.now_ns()
    with pytest.raises(ReplyError) as caught:
        open_channel(bench)
    elapsed = bench.vclock.now_ns() - start
    assert len(OPEN) * CHAR_NS + 200_000_000 <= elapsed <= len(OPEN) * CHAR_NS + 201_000_000
    assert "timeout" in caught.value.what


def test_garbage_before_the_reply_is_skipped():
    bench = Bench(family, {OPEN: b"\x07\x11\x0b" + OPEN_REPLY}, 32580)
    assert open_channel(bench) == OPEN_REPLY and bench.link.attempts == 1


@pytest.mark.parametrize("name", ["kaskad_11_c1", "mercury_206", "ce_102m"])
def test_progress_is_called_after_every_exchange_even_when_the_meter_is_silent(name):
    import importlib

    chosen = importlib.import_module("kaskad.meters." + name)
    bench = Bench(chosen, {}, {"kaskad_11_c1": 32580, "mercury_206": 36896545, "ce_102m": None}[name])
    calls = []
    bench.meter.progress = lambda: calls.append(bench.link.exchanges)
    assert not bench.poll()
    assert calls == [1]  # the first request went unanswered: the poll stops there
