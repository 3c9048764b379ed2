"""The graph functions behind the exported SavedModel and TFLite files.

Everything a client needs is in the graph: face framing and resizing, MFCC windows, seeded noise
and the conversion of frames to uint8. The entry points share one generator:

  serving_default(face, audio, seed) -> frames           one call, whole recording
  serve_box(image, box, audio, seed) -> frames, window  the same from a whole picture and any
                                                        face detector's box, framed in-graph
  encode_face(face) -> identity                         once per photo
  encode_face_box(image, box) -> identity, window       the same from a picture and a box
  generate_chunk(identity, audio, state, seed, start_frame) -> frames, state
                                                        per chunk, constant memory
  generate_layers(the same) -> generate_chunk's outputs but frames (a warping model only)

A warping model's frames come with their layers (flow, mask, drawn; `_frame_outputs`), so a
client can make the same motion at the photo's own resolution (`inference/composite.py`).

Exported with a lip locator (`bin/export --lip_locator`), serving_default's and serve_box's
frames are made as `bin/generate` makes its default video: the still's own lips moved to the lip
shape the mouth head hears (`lip_rig_graph.GraphLipRig`, the still's points from the locator);
the chunk signatures keep the decoder's frames and layers and give `mouth_shape`, from which a
client moves the photo's lips itself (`inference/lip_rig.py`).

`identity` packs what the still contributes (its identity code, its U-Net skips' share of each
of the four decoder convs, computed once per still, and, for a generator that blends with the
still, the still itself) into one flat float32 vector and
`state` packs every GRU state into another, so a chunked client handles two opaque tensors
whatever the model size. Noise is drawn from the seed in blocks of `NOISE_BLOCK_FRAMES` frames
with a stateless RNG, so frame t gets the same noise whether the recording is generated in one
call or in chunks of any size.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lipsync_tf.audio.mfcc import MfccWindows
from lipsync_tf.config import IMAGE_CHANNELS, IMAGE_HEIGHT, IMAGE_WIDTH, ModelConfig
from lipsync_tf.export.contract import LAYERS_SIGNATURE, noise_for_frames
from lipsync_tf.export.lip_rig_graph import GraphLipRig
from lipsync_tf.face_geometry import CROP_CENTER_SHIFT, CROP_WIDTH_SCALE, LIP_SHAPE_GAIN
from lipsync_tf.models.generator import Generator
from lipsync_tf.models.lip_locator import LipLocator

# The head's rest pose: its shapes on this many frames of silence, averaged over the last
# REST_FRAMES (after the GRUs settle), as `inference.lip_rig.rest_shape`.
SILENCE_FRAMES, REST_FRAMES = 25, 15


def face_to_still(face: tf.Tensor) -> tf.Tensor:
    """uint8 [H, W, 3] face crop of any size -> float32 [1, 128, 96, 3] in [-1, 1].

    A crop whose aspect is not 128:96 (H:W), e.g. a square VoxCeleb2 crop, is first centre-cropped
    to that aspect, so the face is scaled, never squashed.
    """
    image = tf.cast(face, tf.float32)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    # Largest centred window of aspect IMAGE_HEIGHT:IMAGE_WIDTH inside the image.
    crop_w = tf.minimum(width, (height * IMAGE_WIDTH + IMAGE_HEIGHT // 2) // IMAGE_HEIGHT)
    crop_h = tf.minimum(height, (width * IMAGE_HEIGHT + IMAGE_WIDTH // 2) // IMAGE_WIDTH)
    image = tf.slice(
        image, [(height - crop_h) // 2, (width - crop_w) // 2, 0], [crop_h, crop_w, -1]
    )
    size = tf.shape(image)[:2]
    resized = tf.cond(
        tf.reduce_all(size == [IMAGE_HEIGHT, IMAGE_WIDTH]),
        lambda: image,
        lambda: tf.image.resize(image, [IMAGE_HEIGHT, IMAGE_WIDTH], antialias=True),
    )
    resized = tf.ensure_shape(resized, [IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS])
    return (resized / 127.5 - 1.0)[None]


def face_from_box(image: tf.Tensor, box: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A whole picture and a face detector's box -> (still float32 [1, 128, 96, 3] in [-1, 1],
    the crop window float32 [4] (x0, y0, x1, y1) in picture pixels).

    The project's framing, in the graph (`face_geometry.crop_window`): the window is
    CROP_WIDTH_SCALE box widths wide, of aspect 128:96, moved down by CROP_CENTER_SHIFT box
    heights. It assumes a box like MediaPipe's (brows to chin); the part of the window outside
    the picture is filled by mirroring its edge.
    """
    image = tf.cast(image, tf.float32)
    box = tf.cast(box, tf.float32)
    width = (box[2] - box[0]) * CROP_WIDTH_SCALE
    height = width * IMAGE_HEIGHT / IMAGE_WIDTH
    center_x = (box[0] + box[2]) / 2
    center_y = (box[1] + box[3]) / 2 + CROP_CENTER_SHIFT * (box[3] - box[1])
    window = tf.stack(
        [center_x - width / 2, center_y - height / 2, center_x + width / 2, center_y + height / 2]
    )
    x0, y0 = tf.cast(tf.floor(window[0]), tf.int32), tf.cast(tf.floor(window[1]), tf.int32)
    x1, y1 = tf.cast(tf.math.ceil(window[2]), tf.int32), tf.cast(tf.math.ceil(window[3]), tf.int32)
    rows, cols = tf.shape(image)[0], tf.shape(image)[1]
    # Mirror as much as the window leaves the picture by (at most the picture's size).
    pad_top, pad_left = tf.clip_by_value(-y0, 0, rows - 1), tf.clip_by_value(-x0, 0, cols - 1)
    pad_bottom = tf.clip_by_value(y1 - rows, 0, rows - 1)
    pad_right = tf.clip_by_value(x1 - cols, 0, cols - 1)
    padded = tf.pad(image, [[pad_top, pad_bottom], [pad_left, pad_right], [0, 0]], mode="SYMMETRIC")
    top = tf.clip_by_value(y0 + pad_top, 0, tf.shape(padded)[0] - 1)
    left = tf.clip_by_value(x0 + pad_left, 0, tf.shape(padded)[1] - 1)
    crop = padded[top : y1 + pad_top, left : x1 + pad_left]
    still = tf.image.resize(crop, [IMAGE_HEIGHT, IMAGE_WIDTH], antialias=True)
    still = tf.ensure_shape(still, [IMAGE_HEIGHT, IMAGE_WIDTH, IMAGE_CHANNELS])
    return (still / 127.5 - 1.0)[None], window


def frames_to_uint8(frames: tf.Tensor) -> tf.Tensor:
    """float32 [..., 128, 96, 3] in [-1, 1] -> uint8, rounding to the nearest level.

    Scaled before it is shifted and clipped: in the int8 TFLite model, `(x + 1) * 127.5` gave
    `x + 1` the product's quantisation step (a whole level of 0..255 for a value in 0..2), which
    left three grey levels.
    """
    levels = tf.round(tf.clip_by_value(frames * 127.5 + 127.5, 0.0, 255.0))
    return tf.cast(levels, tf.uint8)


class GeneratorSignatures:
    """Packs/unpacks identity and state and builds the exported functions for one generator."""

    def __init__(
        self,
        generator: Generator,
        config: ModelConfig,
        lip_locator: LipLocator | None = None,
        lip_shape_gain: float = LIP_SHAPE_GAIN,
    ):
        """`lip_locator` (a model with a mouth head only): the whole-recording signatures move
        the still's lips to the heard shape, `lip_shape_gain` times (module doc)."""
        self.generator = generator
        self.config = config
        if lip_locator is not None and not generator.use_mouth_head:
            raise ValueError("moving the still's lips needs a generator with a mouth head.")
        self.lip_locator = lip_locator
        self.lip_rig = GraphLipRig(lip_shape_gain) if lip_locator is not None else None
        self.mfcc = MfccWindows(config.audio)
        self.identity_parts = generator.identity_shapes
        self.state_units = list(config.audio_gru_units) + list(config.noise_gru_units)

    @property
    def identity_size(self) -> int:
        """Length of the packed identity vector (code + every identity term, flattened)."""
        return int(sum(np.prod(shape) for shape in self.identity_parts))

    @property
    def state_size(self) -> int:
        """Length of the packed recurrent state (every GRU state of both encoders)."""
        return int(sum(self.state_units))

    @property
    def context_samples(self) -> tuple[int, int]:
        """Audio samples a chunk needs before its first and after its last frame."""
        return self.mfcc.context_samples

    @property
    def samples_per_frame(self) -> int:
        return self.config.audio.samples_per_video_frame

    def pack_identity(self, identity) -> tf.Tensor:
        code, terms, *still = identity
        return tf.concat([tf.reshape(part, [-1]) for part in [code, *terms, *still]], axis=0)

    def unpack_identity(self, packed: tf.Tensor):
        parts, offset = [], 0
        for shape in self.identity_parts:
            size = int(np.prod(shape))
            parts.append(tf.reshape(packed[offset : offset + size], [1, *shape]))
            offset += size
        terms = parts[1 : 1 + len(self.generator.frame_decoder.identity_shapes())]
        return (parts[0], terms, *parts[1 + len(terms) :])

    def pack_state(self, state) -> tf.Tensor:
        return tf.concat([s[0] for s in [*state["audio"], *state["noise"]]], axis=0)

    def unpack_state(self, packed: tf.Tensor):
        tensors, offset = [], 0
        for units in self.state_units:
            tensors.append(packed[None, offset : offset + units])
            offset += units
        audio_layers = len(self.config.audio_gru_units)
        return {"audio": tensors[:audio_layers], "noise": tensors[audio_layers:]}

    # --- the exported computations --------------------------------------------------------

    def serve(self, face: tf.Tensor, audio: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        """face uint8 [H, W, 3], audio float32 [samples] at 16 kHz, seed int64 -> frames."""
        windows = self.mfcc(audio[None])
        num_frames = tf.shape(windows, out_type=tf.int64)[1]
        noise = noise_for_frames(seed, tf.constant(0, tf.int64), num_frames, self.config)
        still = face_to_still(face)
        identity = self.generator.encode_identity(still, training=False)
        generated = self.generator.generate(identity, windows, noise[None], training=False)
        return self._served_outputs(still, identity, generated)

    def serve_box(
        self, image: tf.Tensor, box: tf.Tensor, audio: tf.Tensor, seed: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        """serving_default for a whole picture and a face detector's box (`face_from_box`);
        also returns the crop window it framed, to composite the layers into the picture."""
        still, window = face_from_box(image, box)
        windows = self.mfcc(audio[None])
        num_frames = tf.shape(windows, out_type=tf.int64)[1]
        noise = noise_for_frames(seed, tf.constant(0, tf.int64), num_frames, self.config)
        identity = self.generator.encode_identity(still, training=False)
        generated = self.generator.generate(identity, windows, noise[None], training=False)
        return {**self._served_outputs(still, identity, generated), "window": window}

    def _served_outputs(self, still, identity, generated) -> dict[str, tf.Tensor]:
        """A whole recording's outputs: `_frame_outputs`, the frames made by the lip rig when
        the export has a lip locator."""
        outputs = self._frame_outputs(generated)
        if self.lip_rig is None:
            return outputs
        points = self.lip_locator(still, training=False)[0]
        silence = tf.zeros([1, SILENCE_FRAMES * self.samples_per_frame], tf.float32)
        quiet = self.generator.generate(
            identity,
            self.mfcc(silence),
            tf.zeros([1, SILENCE_FRAMES, self.config.noise_dim]),
            training=False,
        )
        rest = tf.reduce_mean(quiet["mouth_shape"][0, -REST_FRAMES:], axis=0)
        frames = self.lip_rig.frames(still[0], points, rest, generated["mouth_shape"][0])
        outputs["frames"] = frames_to_uint8(frames)
        return outputs

    def encode_face_box(self, image: tf.Tensor, box: tf.Tensor) -> dict[str, tf.Tensor]:
        """encode_face for a whole picture and a face detector's box; also the crop window."""
        still, window = face_from_box(image, box)
        identity = self.generator.encode_identity(still, training=False)
        return {"identity": self.pack_identity(identity), "window": window}

    def encode_face(self, face: tf.Tensor) -> dict[str, tf.Tensor]:
        """face uint8 [H, W, 3] -> packed identity float32 [identity_size]."""
        identity = self.generator.encode_identity(face_to_still(face), training=False)
        return {"identity": self.pack_identity(identity)}

    @property
    def identity_part_names(self) -> list[str]:
        """Names of the identity's parts when they travel separately (the TFLite form)."""
        stages = len(self.generator.frame_decoder.identity_shapes())
        still = ["identity_still"] if self.generator.blend_mask else []
        return ["identity_code", *(f"identity_term{i + 1}" for i in range(stages)), *still]

    def encode_face_parts(self, face: tf.Tensor) -> dict[str, tf.Tensor]:
        """face uint8 [H, W, 3] -> the identity's parts, {name: float32 [*identity_shapes[i]]}.

        The TFLite form: one packed vector would share one int8 range between the still
        (within +-1) and the decoder terms (within +-50 in a small model), and lose the still.
        """
        code, terms, *still = self.generator.encode_identity(face_to_still(face), training=False)
        parts = [code, *terms, *still]
        return {name: part[0] for name, part in zip(self.identity_part_names, parts, strict=True)}

    def generate_chunk_with_noise(self, identity, audio, state, noise, with_frames=True):
        """One chunk given explicit noise float32 [frames, noise_dim] (the TFLite form).

        identity: the packed vector, or the list of parts `encode_face_parts` returns.
        audio: float32 [left + frames * 640 + right] (the chunk with its context, see
        `MfccWindows.context_slice`). Returns {"frames": uint8 [frames, 128, 96, 3],
        "state": float32 [state_size]} and the layers (`_frame_outputs`). `with_frames=False` (a
        model that exports its layers) leaves the 128x96 frames out: a function traced so
        has no warp of the still or blend in its graph, which a client compositing the
        layers at the photo's resolution never reads (the TFLite `generate_layers`).
        """
        windows = self.mfcc(audio[None], context_included=True)
        if isinstance(identity, (list, tuple)):  # separate parts (TFLite)
            parts = [part[None] for part in identity]
            stages = len(self.generator.frame_decoder.identity_shapes())
            identity = (parts[0], parts[1 : 1 + stages], *parts[1 + stages :])
        else:
            identity = self.unpack_identity(identity)
        generated = self.generator.generate(
            identity, windows, noise[None], self.unpack_state(state), training=False
        )
        outputs = self._frame_outputs(generated, with_frames or not self.exports_layers)
        return {**outputs, "state": self.pack_state(generated["state"])}

    @property
    def exports_layers(self) -> bool:
        """Whether the frames come with the layers they were made of (a warping, blending
        generator): what a client needs to make the same motion at the photo's resolution."""
        return bool(self.generator.frame_decoder.flow_output)

    def _frame_outputs(self, generated: dict, with_frames: bool = True) -> dict[str, tf.Tensor]:
        """frames uint8 [T, 128, 96, 3]; with `exports_layers` also the layers of each frame:
        flow float32 [T, 128, 96, 2] (x, y crop pixels: the still is read at (x + flow_x,
        y + flow_y)), mask float32 [T, 128, 96, 1] in [0, 1], and the drawn pixels uint8
        [T, 128, 96, 3], so that frames = mask * drawn + (1 - mask) * warp(still, flow). A model
        with a mouth head also gives mouth_shape float32 [T, 80]: the lip shape it hears (the 40
        lip points minus the speaker's mean, in LIP_SHAPE_SCALE units, before the mouth gain).
        `with_frames=False`: all of it but the frames."""
        outputs = {}
        if with_frames:  # else nothing reads the still's warp and blend: the graph drops them
            outputs["frames"] = frames_to_uint8(generated["frames"][0])
        if generated["mouth_shape"] is not None:
            # What the model hears: the head's lip shapes, before any mouth gain.
            outputs["mouth_shape"] = generated["mouth_shape"][0]
        if self.exports_layers:
            outputs.update(
                flow=generated["flow"][0],
                mask=generated["mask"][0],
                drawn=frames_to_uint8(generated["drawn"][0]),
            )
        return outputs

    def generate_chunk(self, identity, audio, state, seed, start_frame, with_frames=True):
        """One chunk starting at video frame `start_frame`, noise drawn from `seed`
        (`with_frames`: as `generate_chunk_with_noise`'s)."""
        left, right = self.context_samples
        samples = tf.cast(tf.shape(audio)[0], tf.int64)
        num_frames = (samples - left - right) // self.samples_per_frame
        noise = noise_for_frames(seed, start_frame, num_frames, self.config)
        return self.generate_chunk_with_noise(identity, audio, state, noise, with_frames)

    def input_signatures(self) -> dict[str, list[tf.TensorSpec]]:
        """TensorSpecs of the SavedModel's endpoints (names are the signature inputs)."""
        face = tf.TensorSpec([None, None, IMAGE_CHANNELS], tf.uint8, name="face")
        image = tf.TensorSpec([None, None, IMAGE_CHANNELS], tf.uint8, name="image")
        box = tf.TensorSpec([4], tf.float32, name="box")
        audio = tf.TensorSpec([None], tf.float32, name="audio")
        seed = tf.TensorSpec([], tf.int64, name="seed")
        chunk = [
            tf.TensorSpec([self.identity_size], tf.float32, name="identity"),
            tf.TensorSpec([None], tf.float32, name="audio"),
            tf.TensorSpec([self.state_size], tf.float32, name="state"),
            seed,
            tf.TensorSpec([], tf.int64, name="start_frame"),
        ]
        specs = {
            "serving_default": [face, audio, seed],
            "serve_box": [image, box, audio, seed],
            "encode_face": [face],
            "encode_face_box": [image, box],
            "generate_chunk": chunk,
        }
        if self.exports_layers:
            specs[LAYERS_SIGNATURE] = chunk
        return specs

    def generate_layers(self, identity, audio, state, seed, start_frame):
        """`generate_chunk` without the 128x96 frames (a model that exports its layers)."""
        return self.generate_chunk(identity, audio, state, seed, start_frame, with_frames=False)
