"""Helpers for the family tests against the independent simulated meters (host/kaskad_sim): the
rig is meter_proof's (host/meter_proof.py: the family's driver on the one ByteLink, the model at
the far end, in virtual time, with the settings' defaults)."""

from meter_proof import Rig as FamilyRig  # noqa: F401  (the tests' name for it)


def poll_ms(rig):
    """(the poll's result, how long it took in virtual time, ms)."""
    start = rig.now_ns()
    ok = rig.poll()
    return ok, (rig.now_ns() - start) / 1_000_000


def refuse(sim, wanted):
    """Make a model (of any family) refuse every request that `wanted(request bytes)` accepts,
    with the model's own error-status fault; returns the list of the requests it refused (clear
    `wanted`'s condition to stop)."""
    refused = []
    name = "handle_request" if hasattr(sim, "handle_request") else "handle_frame"  # MIRTEK's model
    handle = getattr(sim, name)

    def refusing(request, *when):
        if wanted(bytes(request)):
            refused.append(bytes(request))
            sim.inject("error_status")
        return handle(request, *when)

    setattr(sim, name, refusing)
    return refused
