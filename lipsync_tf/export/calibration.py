"""Representative samples from real clips, to calibrate the int8 TFLite model's ranges.

Full-integer quantisation fixes each activation's int8 range from what the float model computes
on the samples given; random inputs would set ranges no real face or voice produces. So the
samples are what bin/generate feeds the model: face crops cut as bin/generate cuts them (MediaPipe
on the clip's first frame) and consecutive one-second chunks of the clip's own speech, run
through the float model so that every chunk sees a realistic recurrent state.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import tensorflow as tf

from lipsync_tf.errors import InputError, LipsyncError
from lipsync_tf.export.contract import CHUNK_FRAMES, noise_for_frames
from lipsync_tf.export.signatures import GeneratorSignatures
from lipsync_tf.export.tflite import Sample

# Faces per clip: its first frame (the still bin/generate would use), and two later ones.
FACE_FRAMES = (0, CHUNK_FRAMES, 2 * CHUNK_FRAMES)


def _clip_faces_and_speech(source, detector, seconds: int, fps: int, sample_rate: int):
    """Face crops at FACE_FRAMES (one crop window, from the first frame) and the speech."""
    from lipsync_tf.face_geometry import crop_window
    from lipsync_tf.preprocessing.faces import crop_face, find_single_face
    from lipsync_tf.preprocessing.video import (
        decode_audio_track,
        iter_video_frames,
        video_start_time,
    )

    frames = list(itertools.islice(iter_video_frames(source.path, fps), seconds * fps))
    audio = decode_audio_track(
        source.path, video_start_time(source.path), sample_rate, source.audio_path
    )
    if audio is None or len(audio) < sample_rate:
        raise InputError(f"{source.path} has less than a second of audio")
    box, _ = find_single_face(frames[0], detector, name=str(source.path))
    window = crop_window(box)
    faces = [crop_face(frames[index], window) for index in FACE_FRAMES if index < len(frames)]
    return faces, audio[: seconds * sample_rate]


def calibration_samples(
    signatures: GeneratorSignatures,
    data_dir: str | Path,
    max_clips: int = 8,
    seconds: int = 3,
    seed: int = 0,
) -> tuple[list[Sample], list[str]]:
    """(samples for `TFLiteConverter.representative_dataset`, the clips they came from).

    Takes up to `max_clips` clips spread evenly over `data_dir` (any layout bin/prepare_data
    reads) with a face and speech, and from each: `FACE_FRAMES` face crops for `encode_face`
    and `seconds` consecutive chunks for `generate_chunk` (identity from the clip's first face,
    state carried over, noise drawn as bin/generate draws it). Raises InputError when no clip is
    usable.
    """
    from lipsync_tf.preprocessing.faces import FaceDetector
    from lipsync_tf.preprocessing.layouts import find_clips

    config = signatures.config
    sources = find_clips(data_dir)
    stride = max(1, len(sources) // max_clips)
    encode = tf.function(signatures.encode_face_parts)
    chunk = tf.function(signatures.generate_chunk_with_noise)
    samples: list[Sample] = []
    used: list[str] = []
    with FaceDetector() as detector:
        for source in sources[::stride]:
            if len(used) == max_clips:
                break
            try:
                faces, speech = _clip_faces_and_speech(
                    source, detector, seconds, config.audio.fps, config.audio.sample_rate
                )
            except LipsyncError:
                continue  # no face, no speech or undecodable: not representative anyway
            samples += [("encode_face", {"face": face}) for face in faces]
            identity = encode(tf.constant(faces[0]))
            parts = [identity[name] for name in signatures.identity_part_names]
            state = tf.zeros([signatures.state_size])
            total = signatures.mfcc.num_frames(len(speech))
            for start in range(0, total - CHUNK_FRAMES + 1, CHUNK_FRAMES):
                audio = signatures.mfcc.context_slice(speech[None], start, start + CHUNK_FRAMES)[0]
                noise = noise_for_frames(seed, start, CHUNK_FRAMES, config)
                inputs = {**identity, "audio": audio, "state": state, "noise": noise}
                samples.append(
                    ("generate_chunk", {k: np.asarray(v, np.float32) for k, v in inputs.items()})
                )
                state = chunk(parts, tf.constant(audio), state, noise)["state"]
            used.append(str(source.path))
    if not used:
        raise InputError(
            f"no clip in {data_dir} has both a face and a second of speech; give a folder of "
            "real talking-face clips for --calibration_data."
        )
    return samples, used
