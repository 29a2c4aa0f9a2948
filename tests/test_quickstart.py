"""The main job on embedded data: NDigits -> frames -> a spiking network -> test accuracy."""

from __future__ import annotations


def test_quickstart_network_learns_ndigits(ndigits_root):
    """The demo's end-to-end path: frames from the packed store, a two-layer LIF network,
    surrogate gradients; two epochs already classify most test digits, deterministically."""
    from spikestream.train.quickstart import train_on_ndigits

    first = train_on_ndigits(ndigits_root, epochs=2, seed=3)
    again = train_on_ndigits(ndigits_root, epochs=2, seed=3)
    assert first["accuracy"] > 0.7  # chance is 0.1
    assert first["losses"][1] < first["losses"][0]
    assert first["losses"] == again["losses"] and first["accuracy"] == again["accuracy"]
