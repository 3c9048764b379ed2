"""lipsync_tf: speech-driven talking-face video from one still photo (Keras 3 on TensorFlow)."""

__version__ = "0.1.0"
