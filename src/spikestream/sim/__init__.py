"""Event-camera simulation: frames or video to events, saccades over still images, and the
embedded ``NDigits`` demo dataset."""

from .camera import CameraConfig, simulate
from .ndigits import NDigits
from .saccades import TRIANGLE, saccade_events, saccade_frames

__all__ = ["TRIANGLE", "CameraConfig", "NDigits", "saccade_events", "saccade_frames", "simulate"]
