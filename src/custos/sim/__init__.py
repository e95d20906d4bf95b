"""Synthetic cameras: real H.264 / H.265 (and bad-input MJPEG / audio) served over RTSP for tests,
benchmarks and the demo, with faults (cut, freeze) on command.

Importing this package never imports GStreamer; only the server process does.
"""

from custos.sim.encode import default_cache_dir, encode, encode_all
from custos.sim.handle import SimCameras
from custos.sim.spec import CODECS, CameraSpec, cameras

__all__ = ["CODECS", "CameraSpec", "SimCameras", "cameras", "default_cache_dir", "encode", "encode_all"]
