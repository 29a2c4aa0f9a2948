"""Event-camera simulation: frames or video to events, saccades over still images, and the
handwritten-digit recordings behind the embedded ``NDigits`` dataset (`spikestream.datasets`)."""

from .camera import CameraConfig, simulate
from .saccades import TRIANGLE, saccade_events, saccade_frames

__all__ = ["TRIANGLE", "CameraConfig", "saccade_events", "saccade_frames", "simulate"]
