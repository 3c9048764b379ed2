"""Inference: photo/video + speech -> mp4 (crop, generate chunk by chunk, paste back, mux)."""
