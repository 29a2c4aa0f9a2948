"""Opening cameras: whatever the SDK raises when no camera can be found or opened (dv-processing
2.0.4 raises IndexError without a camera, RuntimeError with a C++ stack trace for an unknown
serial) is one `StreamError` line naming the problem and the other sources, the SDK's error
chained; a missing OpenEB names what to install (it is no pip extra)."""

from __future__ import annotations

import sys
import types

import pytest

from spikestream.errors import ConfigError, StreamError
from spikestream.live.cameras import open_camera

OTHER_SOURCES = "or use --source file:REC, tcp://HOST:PORT or udp://:PORT"

# what dv-processing 2.0.4's open("DXA0001") raises here (abridged)
DV_RUNTIME_ERROR = (
    "/project/include/dv-processing/io/camera/discovery.hpp(88): dv::io::camera::CameraPtr "
    "dv::io::camera::open(std::string_view, ...)()\n"
    "RuntimeError: Could not find device with given serial number\n"
    "Stacktrace:\n 0# 0x00000000003ABBDA in dv_processing.cpython-311-x86_64-linux-gnu.so\n"
)


def test_dv_without_a_camera_real_library():
    dv = pytest.importorskip("dv_processing")
    if dv.io.camera.discover():
        pytest.skip("an iniVation camera is connected to this machine")
    with pytest.raises(StreamError) as info:
        open_camera("dv:")
    message = str(info.value)
    assert message.startswith("dv:: cannot open the camera: no iniVation camera found: ")
    assert message.endswith(OTHER_SOURCES) and "\n" not in message
    assert isinstance(info.value.__cause__, Exception)  # the library's own error, chained
    with pytest.raises(StreamError, match=r"no iniVation camera found \(asked for 'DXA0001'\)"):
        open_camera("dv:DXA0001")


def _fake_dv(monkeypatch, error: BaseException, found) -> None:
    dv = pytest.importorskip("dv_processing")

    def open_(*args):
        raise error

    def discover():
        if isinstance(found, BaseException):
            raise found
        return found

    monkeypatch.setattr(dv.io.camera, "open", open_)
    monkeypatch.setattr(dv.io.camera, "discover", discover)


def test_dv_open_failure_lists_the_connected_cameras(monkeypatch):
    camera = types.SimpleNamespace(
        serialNumber="DXA00093", cameraModel=types.SimpleNamespace(name="DVXPLORER")
    )
    _fake_dv(monkeypatch, RuntimeError(DV_RUNTIME_ERROR), [camera])
    with pytest.raises(StreamError) as info:
        open_camera("dv:DXA0001")
    assert str(info.value) == (
        "dv:DXA0001: cannot open the camera: camera 'DXA0001': Could not find device with "
        f"given serial number; connected: DXA00093 (DVXPLORER); use dv:SERIAL, {OTHER_SOURCES}"
    )
    assert isinstance(info.value.__cause__, RuntimeError)


def test_dv_any_library_error_is_a_stream_error(monkeypatch):
    # an IndexError from open although discovery lists a camera, and discovery itself failing
    _fake_dv(monkeypatch, IndexError("vector::_M_range_check"), OSError("usb"))
    with pytest.raises(StreamError) as info:
        open_camera("dv:")
    assert str(info.value) == (
        "dv:: cannot open the camera: the first camera: vector::_M_range_check; connected: "
        f"unknown (discovery failed); use dv:SERIAL, {OTHER_SOURCES}"
    )
    assert isinstance(info.value.__cause__, IndexError)


def test_dv_no_camera_with_a_mocked_discovery(monkeypatch):
    # what the real library does without a camera, wherever a camera is plugged in
    _fake_dv(monkeypatch, IndexError("vector::_M_range_check: __n (which is 0) >= 0"), [])
    with pytest.raises(StreamError, match=r"^dv:: cannot open the camera: no iniVation camera "
                       r"found: dv-processing discovers none"):  # fmt: skip
        open_camera("dv:")


def test_metavision_missing_names_openeb_not_a_pip_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "metavision_core", None)  # import fails
    monkeypatch.setitem(sys.modules, "metavision_core.event_io", None)
    with pytest.raises(ConfigError) as info:
        open_camera("metavision:")
    message = str(info.value)
    assert message.startswith("metavision:: this source needs OpenEB's Python bindings (import "
                              "metavision_core.event_io failed: ")  # fmt: skip
    assert "not a pip extra" in message and "spikestream[metavision]" not in message


def test_metavision_open_failure_is_a_stream_error(monkeypatch):
    class EventsIterator:
        def __init__(self, input_path, mode, delta_t):
            raise OSError("no device")

    module = types.ModuleType("metavision_core.event_io")
    module.EventsIterator = EventsIterator  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "metavision_core", types.ModuleType("metavision_core"))
    monkeypatch.setitem(sys.modules, "metavision_core.event_io", module)
    with pytest.raises(StreamError) as info:
        open_camera("metavision:SER1")
    assert str(info.value).startswith(
        "metavision:SER1: cannot open the camera: camera 'SER1': no device; check it is plugged "
        "in (metavision_platform_info lists the cameras OpenEB sees)"
    )
    assert isinstance(info.value.__cause__, OSError)
