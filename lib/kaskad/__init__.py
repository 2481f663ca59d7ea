VERSION = (1, 0, 0)  # the firmware version the configuration status reports
