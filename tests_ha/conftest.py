"""Home Assistant's own test harness (pytest-homeassistant-custom-component) for tests_ha."""
pytest_plugins = ["pytest_homeassistant_custom_component"]
