"""The optical link by the name the app still builds it under: the meters' one link."""

from kaskad.meters.link import ByteLink as OpticalLink  # noqa: F401
