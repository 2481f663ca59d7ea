"""The configurator page (clients/web/index.html) in a real headless Chromium, against the real
code.py on the host twin.

Debian's chromium driven through chromium-driver by Selenium; the page is opened from disk
(file://) with its real scripts and the browser's real WebCrypto. Only ``navigator.bluetooth`` is
replaced (tests/web/fake_web_bluetooth.js, injected before the page's scripts): it carries every
GATT call over a WebSocket on 127.0.0.1 to tests/web_twin.py, where the strict ``_bleio``
stand-in's fake central performs it against code.py running in real time. What is checked is
what the twin and Home Assistant's own parser see, never bytes the page made.

Waits are on conditions, with generous limits that only guard against a hang; how long each flow
took is written to build/web/timings.json (figures, not assertions).
"""
import json
import os
import shutil
import time

import pytest
from ha_view import HomeAssistantView
from kaskad_sim.meter import SimMeter
from web_twin import WebTwin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = "file://" + os.path.join(ROOT, "clients", "web", "index.html")
FAKE_BLUETOOTH = os.path.join(ROOT, "tests", "web", "fake_web_bluetooth.js")
OUT = os.path.join(ROOT, "build", "web")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
GUARD_S = 90  # only against a hang: no test asserts on how long anything takes

# The board's settings for these tests: a meter address the simulated meter does NOT answer at
# (it is at METER_ADDRESS), so the page has to fix it; one try per exchange with a short reply
# timeout, so that a poll of the silent address holds the loop briefly.
SETTINGS = 'KASKAD_METER_ADDRESS = 20109\nKASKAD_RETRIES = 0\nKASKAD_REPLY_TIMEOUT_MS = 300\n'
METER_ADDRESS = 31337
TIMINGS = {}


def browser_missing():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if missing:
        message = ("%s missing: install the Debian packages chromium and chromium-driver "
                   "(apt-get install -y chromium chromium-driver)" % ", ".join(missing))
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI a missing browser is a failure, never a skip
        pytest.skip(message)


@pytest.fixture
def settings_text():
    return SETTINGS  # a test may parametrize its own


@pytest.fixture
def twin(tmp_path, settings_text):
    browser_missing()
    # the meter's terminal cover seal is open (status byte A, bit 1: kaskad.config.METER_FLAG_BITS)
    board = WebTwin(tmp_path, settings_text, SimMeter(address=METER_ADDRESS, flags_a=0x02))
    yield board
    board.stop()
    assert board.error is None, board.error


@pytest.fixture
def browsers(tmp_path, twin):
    made = []

    def launch(name="owner"):
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        options = Options()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        profile = tmp_path / ("profile-" + name)
        options.add_argument("--user-data-dir=%s" % profile)
        options.add_argument("--window-size=1000,1200")
        downloads = tmp_path / ("downloads-" + name)
        downloads.mkdir()
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False})
        driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        made.append(driver)
        with open(FAKE_BLUETOOTH) as source:
            fake = source.read().replace("__KASKAD_BRIDGE__", twin.url)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": fake})
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        driver.set_script_timeout(120)
        driver.get(PAGE)
        return Browser(driver, twin, downloads)

    yield launch
    for driver in made:
        driver.quit()


class Browser:
    """A person at the page: clicks, types, reads what the page shows."""

    def __init__(self, driver, twin, downloads):
        self.driver = driver
        self.twin = twin
        self.downloads = downloads

    def el(self, element_id):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.ID, element_id)

    def text(self, element_id):
        return self.el(element_id).text

    def click(self, element_id):
        self.until(lambda: self.el(element_id).is_enabled(), "%s enabled" % element_id)
        self.press(self.el(element_id))

    def press(self, element):
        # as a person scrolls a control out from under the sticky bar before tapping it
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def type(self, element_id, value):
        """As a person types: focus the box, select what is there, type over it. WebDriver's clear()
        blurs the box, and a status refresh landing before the keys then refills it (the page keeps
        a box only while it has focus or was edited), so "30" could become "6030"."""
        from selenium.webdriver.common.keys import Keys

        box = self.el(element_id)
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.DELETE, str(value))
        self.until(lambda: box.get_attribute("value") == str(value), "%s holds %r" % (element_id, value))

    def submit(self, form_id):
        from selenium.webdriver.common.by import By

        button = self.el(form_id).find_element(By.CSS_SELECTOR, "button[type=submit]")
        self.until(button.is_enabled, "%s enabled" % form_id)
        self.press(button)

    def accept_confirm(self):
        self.until(lambda: self._alert() is not None, "a confirm() dialog")
        self.driver.switch_to.alert.accept()

    def _alert(self):
        from selenium.common.exceptions import NoAlertPresentException

        try:
            return self.driver.switch_to.alert
        except NoAlertPresentException:
            return None

    def log(self):
        return self.text("log")

    def until(self, condition, what, limit=GUARD_S):
        deadline = time.monotonic() + limit
        while True:
            if self.twin.error is not None:
                raise AssertionError("the twin crashed: %r" % (self.twin.error,))
            try:
                if condition():
                    return
            except Exception:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("waited in vain for: %s\n--- page log ---\n%s\n--- notice ---\n%s" % (
                    what, self.log(), self.text("notice")))
            time.sleep(0.05)

    def connect(self):
        self.click("btn-connect")
        self.until(lambda: self.text("link-state").startswith("connected"), "connected")
        self.until(lambda: self.text("st-version") != "–", "the status shown")

    def screenshot(self, path, phone=True, whole_page=False):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        import base64

        if phone:
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        self.driver.execute_script("window.scrollTo(0, 0)")
        args = {"format": "png"}
        if whole_page:
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            width = self.driver.execute_script("return document.documentElement.clientWidth")
            args.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        if phone:  # tidy on a phone: nothing wider than the screen
            overflow = self.driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, "the page is %d px wider than a phone's screen" % overflow
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", args)
        with open(path, "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        if phone:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def timed(name, start):
    TIMINGS[name] = round(time.monotonic() - start, 2)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "timings.json")
    try:
        with open(path) as old:
            saved = json.load(old)
    except (OSError, ValueError):
        saved = {}
    saved.update(TIMINGS)
    with open(path, "w") as out:
        json.dump(saved, out, indent=1, sort_keys=True)


def claim(page):
    page.connect()
    page.until(lambda: page.text("st-claimable") == "open", "the claim window shown open")
    page.click("btn-claim")
    page.until(lambda: page.text("link-state") == "connected as owner", "claimed")


def ha_values(twin, bindkey, since_s):
    """What Home Assistant's BTHome parser, with ``bindkey``, reads from the adverts since then."""
    view = HomeAssistantView(bindkey)
    seen = {}
    for t_s, adv, scan, connectable in twin.adverts_since(since_s):
        seen.update(view.receive(adv, scan, time_s=t_s, connectable=connectable))
    return seen


def sent_commands(page_link, key):
    """The commands a page sent on its current connection, opened with the owner ``key`` by the
    ``cryptography`` package (not the page's code): ["CLAIM"] or opcodes, in order."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM

    stream, out, at = bytes(page_link.stream), [], 0
    while at < len(stream) and at + 1 + stream[at] <= len(stream):
        frame = stream[at + 1:at + 1 + stream[at]]
        at += 1 + stream[at]
        if frame[0] == 0x01:
            out.append("CLAIM")
        else:  # a sealed command: nonce = challenge | 0x00 (to the device) | seq
            nonce = page_link.challenge + bytes((0x00, frame[1]))
            out.append(AESCCM(key, tag_length=4).decrypt(nonce, frame[2:], None)[0])
    return out


def stored_keys(page):
    return page.driver.execute_script("return JSON.parse(localStorage.getItem('kaskad-ble.owner-keys.v1')).keys")


def scan_name(twin):
    from web_twin import advertised

    adverts = twin.adverts_since(0)
    return advertised(adverts[-1][1], adverts[-1][2])[0] if adverts else None


# --- the flows ---------------------------------------------------------------------------------

def test_claim_then_the_meter_address_set_in_the_page_is_where_the_next_poll_goes(browsers, twin):
    page = browsers()
    start = time.monotonic()
    claim(page)
    timed("claim (scan, connect, claim, owner status)", start)
    assert page.text("st-owned") == "yes — this browser"
    assert page.text("st-owners") == "1 (this browser's key: slot 0)"
    stored = page.driver.execute_script("return JSON.parse(localStorage.getItem('kaskad-ble.owner-keys.v1')).keys")
    assert len(stored) == 1 and stored[0]["role"] == "claimed" and len(stored[0]["key"]) == 32
    # the board polls 20109, where nobody answers
    page.until(lambda: page.text("st-last-poll") == "no (last poll failed)", "the silent address shown failing")
    assert all(dst == 20109 for dst, _ in twin.sent_to_meter())

    start = time.monotonic()
    before = len(twin.sent_to_meter())
    page.type("in-address", METER_ADDRESS)
    page.submit("form-address")
    page.until(lambda: page.text("st-address") == str(METER_ADDRESS), "the new address in the status")
    page.until(lambda: page.text("st-serial") == "3171112520109", "the meter's serial number from the next poll")
    timed("set meter address until the meter's serial number shows", start)
    after = twin.sent_to_meter()[before:]
    assert after and all(dst == METER_ADDRESS for dst, _ in after), after
    assert page.text("st-last-poll") == "yes"
    assert page.text("st-made") == "04.10.2017"
    from kaskad import session

    if hasattr(session, "OP_METER"):  # the owner's METER command (docs/owner-protocol.md)
        page.until(lambda: page.text("st-meter-flags") == "terminal cover seal open", "the meter's flag shown")
        assert page.text("st-meter-age").endswith(" s ago")
    else:  # a firmware without it answers UNKNOWN_COMMAND, and the page says so quietly
        page.until(lambda: page.text("st-meter-flags") == "not in this firmware", "no METER in this firmware")
        assert "UNKNOWN_COMMAND" not in page.text("notice")
    assert "set meter address 31337: done" in page.log()

    # nothing came from anywhere but the page's own folder
    resources = page.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href])")
    assert resources and all(url.startswith("file://") for url in resources), resources

    page.screenshot(os.path.join(OUT, "configurator-phone.png"))  # docs/web-configurator.png
    page.screenshot(os.path.join(OUT, "configurator-phone-whole-page.png"), whole_page=True)


@pytest.mark.parametrize("settings_text", [SETTINGS.replace("20109", str(METER_ADDRESS))])
def test_a_bindkey_generated_in_the_page_decrypts_in_home_assistant(browsers, twin):
    page = browsers()
    claim(page)
    start = time.monotonic()
    since = twin.now_s()
    page.click("btn-bindkey-generate")
    page.until(lambda: len(page.text("bindkey-value")) == 32, "the new bindkey shown")
    bindkey = bytes.fromhex(page.text("bindkey-value"))
    page.until(lambda: page.text("st-encrypted").startswith("on"), "encryption shown on")
    since = twin.now_s()  # the board took the key before its status said so: all encrypted from here
    page.until(lambda: {"voltage", "energy_1"} <= set(ha_values(twin, bindkey, since)),
               "Home Assistant decrypting both packets with the page's key")
    timed("bindkey generate until Home Assistant decrypts both packets", start)
    values = ha_values(twin, bindkey, since)
    meter = twin.meter  # what the simulated meter holds, in Home Assistant's units
    assert values["voltage"] == pytest.approx(meter.voltage_raw / 100, abs=0.051)  # BTHome: 0.1 V
    assert values["energy_1"] == pytest.approx(meter.tariffs_raw[0] / 100)
    assert ha_values(twin, None, since) == {}  # without the key Home Assistant reads nothing
    # shown once: gone after Done, and never stored
    stored = page.driver.execute_script("return localStorage.getItem('kaskad-ble.owner-keys.v1')")
    assert bindkey.hex() not in stored
    page.click("btn-bindkey-hide")
    assert page.el("bindkey-shown").is_displayed() is False

    page.click("btn-bindkey-clear")
    page.accept_confirm()
    page.until(lambda: page.text("st-encrypted").startswith("off"), "encryption shown off")
    since = twin.now_s()
    page.until(lambda: "voltage" in ha_values(twin, None, since), "plain readings again")


@pytest.mark.parametrize("settings_text", [
    SETTINGS.replace("20109", str(METER_ADDRESS)) + 'KASKAD_BINDKEY = "231d39c1d7cc1ab1aee224cd096db93"\n'])
def test_a_bindkey_in_the_file_that_cannot_be_used_is_shown_and_a_generated_key_ends_it(browsers, twin):
    # 31 hex digits: the board cannot use the file's key and withholds every reading (status bit
    # 3). The page must say so, not "off (plain broadcasts)", which bit 0 alone would suggest.
    page = browsers()
    page.connect()
    page.until(lambda: "cannot be used" in page.text("st-encrypted"), "the unusable bindkey shown")
    assert page.text("st-encrypted") == ("the bindkey in settings.toml cannot be used: "
                                         "no readings are broadcast (set or clear the key)")
    assert page.el("st-encrypted").get_attribute("class") == "bad"
    claim(page)
    page.until(lambda: page.text("st-last-poll") == "yes", "a good poll of the meter")
    # what the page says is what the air carries: the meter answered, yet Home Assistant got no reading
    assert not {"voltage", "energy_1"} & set(ha_values(twin, None, 0))
    since = twin.now_s()
    page.click("btn-bindkey-generate")
    page.until(lambda: len(page.text("bindkey-value")) == 32, "the new bindkey shown")
    bindkey = bytes.fromhex(page.text("bindkey-value"))
    page.until(lambda: page.text("st-encrypted") == "on (bindkey set)", "encryption shown on")
    assert page.el("st-encrypted").get_attribute("class") == ""
    page.until(lambda: "voltage" in ha_values(twin, bindkey, since), "readings broadcast with the new key")


def test_a_second_browser_profile_that_is_not_an_owner_is_refused(browsers, twin):
    owner = browsers("owner")
    claim(owner)
    owner.click("btn-keys-export")
    owner.until(lambda: list(owner.downloads.glob("*.json")), "the exported key file")
    exported = next(owner.downloads.glob("*.json"))
    owner.click("btn-disconnect")
    owner.until(lambda: owner.text("link-state") == "disconnected", "owner disconnected")

    start = time.monotonic()
    other = browsers("other")
    other.connect()
    other.until(lambda: "has an owner and this browser has no key" in other.text("notice"), "told it is not the owner")
    assert not other.el("btn-claim").is_enabled()
    assert all(not b.is_enabled() for b in other.driver.find_elements("css selector", ".owner-only"))
    # a key of its own is not an owner key: the device refuses and disconnects
    other.press(other.driver.find_element("css selector", "#card-keys details summary"))
    other.type("in-keys-paste", "00112233445566778899aabbccddeeff")
    other.click("btn-keys-paste")
    other.click("btn-refresh")  # enabled now that the page has a key to seal with
    other.until(lambda: "NOT_OPENED (4)" in other.text("notice"), "the refusal shown")
    timed("not an owner: connect, command, refusal shown", start)
    assert "not an owner" in other.text("notice")
    other.until(lambda: other.text("link-state") == "disconnected", "the device disconnects it")
    # the device still has its one owner, and an honest claim by this profile is refused too
    owner.click("btn-reconnect")
    owner.until(lambda: owner.text("link-state") == "connected as owner", "the owner back in")
    assert owner.text("st-owners").startswith("1 ")
    owner.click("btn-disconnect")
    owner.until(lambda: owner.text("link-state") == "disconnected", "owner disconnected")

    # with the owner's exported key imported, this profile is an owner too
    other.el("file-keys-import").send_keys(str(exported))
    other.until(lambda: "imported 1 new key" in other.log(), "the key file imported")
    other.click("btn-reconnect")
    other.until(lambda: other.text("link-state") == "connected as owner", "the imported key opens")
    assert other.text("st-owners") == "1 (this browser's key: slot 0)"


def test_a_lost_connection_midway_applies_nothing_and_the_page_says_so(browsers, twin):
    page = browsers()
    claim(page)
    assert scan_name(twin) == "KASKAD 20109"
    start = time.monotonic()
    page.type("in-name", "Meter in the garage")  # 19 bytes: two STAGE frames, then SET_NAME
    twin.drop_link(after_writes=1)  # the link ends right after the first STAGE frame arrives
    page.submit("form-name")
    page.until(lambda: "connection lost" in page.text("notice"), "the loss reported")
    timed("lost connection midway: reported", start)
    assert "nothing was applied" in page.text("notice")
    assert page.text("link-state") == "disconnected"
    page.click("btn-reconnect")
    page.until(lambda: page.text("link-state") == "connected as owner", "reconnected as owner")
    assert page.text("st-overrides") == "0"  # nothing half-applied
    assert scan_name(twin) == "KASKAD 20109"
    # lost right after the last (here the only) frame left: the page cannot know; the status tells
    page.type("in-poll", 30)
    twin.drop_link(after_writes=1)
    page.submit("form-poll")
    page.until(lambda: "may or may not have applied it" in page.text("notice"), "the uncertainty reported")
    page.click("btn-reconnect")
    page.until(lambda: page.text("link-state") == "connected as owner", "reconnected as owner")
    assert page.text("st-poll") == "60 s"  # the board dropped the frame with the link
    page.submit("form-name")
    page.until(lambda: "set name \"Meter in the garage\": done" in page.log(), "the name set")
    page.until(lambda: scan_name(twin) == "Meter in the garage", "the new name on air")
    page.click("btn-refresh")
    page.until(lambda: page.text("st-overrides") == "1", "one override")


def test_values_are_checked_before_anything_is_sent(browsers, twin):
    page = browsers()
    claim(page)
    link = twin.pages[-1]
    key = bytes.fromhex(stored_keys(page)[0]["key"])
    sent = len(sent_commands(link, key))
    for form, inputs, error in (
            ("form-address", {"in-address": 0}, "meter address: expected a whole number 1..65534"),
            ("form-address", {"in-address": 65535}, "1..65534"),
            ("form-poll", {"in-poll": 4}, "poll period (s): expected a whole number 5..86400"),
            ("form-name", {"in-name": ""}, "name: expected 1 to 29 bytes"),
            ("form-adv", {"in-adv-interval": 2000, "in-adv-switch": 1000}, "at least the advertising interval"),
            ("form-adv", {"in-adv-interval": 10, "in-adv-switch": 1000}, "20..10240"),
            ("form-owner-add", {"in-owner-key": "abc"}, "32 hex digits"),
            ("form-owner-remove", {"in-owner-slot": 4}, "0..3")):
        for box, value in inputs.items():
            page.type(box, value)
        page.submit(form)
        page.until(lambda: error in page.text("err-" + form[5:]), "%s refused: %s" % (form, error))
    # not one of them left the page (the page's own periodic METER, 0x14, may have)
    assert set(sent_commands(link, key)[sent:]) <= {0x14}, sent_commands(link, key)
    # a name of 30 bytes cannot even be typed (maxlength 29); a 28-char name with one 2-byte letter can't be sent
    page.type("in-name", "é" + "x" * 28)
    page.submit("form-name")
    page.until(lambda: "not 30" in page.text("err-name"), "30 bytes refused")
    assert set(sent_commands(link, key)[sent:]) <= {0x14}
    # and a good value does go out, as its opcode (the decoding above can see a command)
    page.type("in-poll", 3600)
    page.submit("form-poll")
    page.until(lambda: 0x21 in sent_commands(link, key)[sent:], "SET_POLL sent")


def test_owners_poll_now_advertising_reboot_and_factory_reset(browsers, twin):
    page = browsers()
    claim(page)
    start = time.monotonic()
    page.type("in-owner-key", "")
    page.submit("form-owner-add")
    page.until(lambda: page.text("st-owners").startswith("2 "), "two owners")
    timed("owner add", start)
    assert "slot 1" in page.text("owner-list")
    keys = page.driver.execute_script("return JSON.parse(localStorage.getItem('kaskad-ble.owner-keys.v1')).keys")
    assert sorted(k["role"] for k in keys) == ["added owner", "claimed"]

    page.type("in-owner-slot", 1)
    page.submit("form-owner-remove")
    page.accept_confirm()
    page.until(lambda: page.text("st-owners").startswith("1 "), "one owner again")
    page.type("in-owner-slot", 0)
    page.submit("form-owner-remove")
    page.accept_confirm()
    page.until(lambda: "LAST_OWNER (20)" in page.text("notice"), "the last owner kept")

    start = time.monotonic()
    before = len(twin.sent_to_meter())
    page.click("btn-poll-now")
    page.until(lambda: "poll now: done" in page.log(), "poll now answered")
    page.until(lambda: len(twin.sent_to_meter()) > before, "a poll reaching the meter")
    timed("poll now until the meter is asked", start)

    page.type("in-poll", 30)
    page.submit("form-poll")
    page.until(lambda: page.text("st-poll") == "30 s", "poll period 30 s")
    page.type("in-adv-interval", 500)
    page.type("in-adv-switch", 2000)
    page.submit("form-adv")
    page.until(lambda: "set advertising 500 ms / 2000 ms: done" in page.log(), "advertising set")

    start = time.monotonic()
    page.click("btn-reboot")
    page.accept_confirm()
    page.until(lambda: twin.boots == 2, "the board rebooted")
    page.until(lambda: page.text("link-state") == "disconnected", "disconnected by the reboot")
    page.click("btn-reconnect")
    page.until(lambda: page.text("link-state") == "connected as owner", "back as owner after the reboot")
    timed("reboot until the owner is back in", start)
    assert page.text("st-poll") == "30 s"  # kept in NVM across the reboot

    start = time.monotonic()
    page.click("btn-factory-reset")
    page.accept_confirm()
    page.until(lambda: twin.boots == 3, "the board rebooted after the factory reset")
    page.click("btn-reconnect")
    page.until(lambda: page.text("st-owned") == "none", "no owner after the factory reset")
    timed("factory reset until the board shows no owner", start)
    assert page.text("st-poll") == "60 s"  # settings.toml applies again
    assert page.text("st-claimable") == "open"


def test_the_javascript_ccm_in_chromium_matches_the_vectors_and_cryptography(browsers):
    import subprocess
    import sys

    page = browsers()
    with open(os.path.join(ROOT, "docs", "owner-vectors.json")) as source:
        vectors = json.load(source)
    made = json.loads(subprocess.check_output([sys.executable, os.path.join(ROOT, "tests", "web", "ccm_cases.py"), "34"]))
    with open(os.path.join(ROOT, "tests", "web", "ccm_check.js")) as source:
        page.driver.execute_script(source.read())
    result = page.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "KaskadCCMCheck.run(KaskadCCM, KaskadProtocol, arguments[0], arguments[1])"
        ".then(done, (e) => done({failures: ['threw: ' + e.message], counts: {}}));", vectors, made["cases"])
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "ccm-browser.json"), "w") as out:
        json.dump(result["counts"], out)
    assert result["failures"] == []
    assert result["counts"]["ccm"] == len(vectors["ccm"])
    assert result["counts"]["random"] == len(made["cases"]) >= 500
    assert result["counts"]["frames"] > 0 and result["counts"]["responses"] > 0
