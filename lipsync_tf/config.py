"""Typed configuration of the audio features and the networks.

Configs are frozen dataclasses so a model can always be rebuilt from the JSON written beside it
(`ModelConfig.to_json` / `ModelConfig.from_json`). `ModelConfig()` is the paper-sized model;
`ModelConfig.tiny()` keeps every architectural feature but few filters, for fast tests.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lipsync_tf.errors import ConfigError

# The identity encoder halves the image five times and ends in a (4, 3) kernel, so the frame size is
# fixed by the architecture rather than configurable.
IMAGE_HEIGHT = 128
IMAGE_WIDTH = 96
IMAGE_CHANNELS = 3


@dataclasses.dataclass(frozen=True)
class AudioFeatureConfig:
    """How a 16 kHz waveform becomes one MFCC window per video frame.

    Each video frame t gets the `window_seconds` of MFCC frames centred on the frame's midpoint
    (t + 0.5) / fps, so video frame t "hears" the speech around the moment it shows.
    """

    sample_rate: int = 16000
    fps: int = 25
    n_mfcc: int = 13
    n_mels: int = 40
    frame_length_ms: float = 25.0
    frame_step_ms: float = 10.0
    window_seconds: float = 0.35
    fft_length: int = 512
    lower_hz: float = 20.0
    upper_hz: float = 7600.0

    def __post_init__(self) -> None:
        if self.sample_rate % self.fps:
            raise ConfigError(
                f"sample_rate {self.sample_rate} is not a whole number of samples per video frame "
                f"at {self.fps} fps; pick rates whose ratio is an integer (e.g. 16000 and 25)."
            )
        if self.samples_per_video_frame % self.frame_step:
            raise ConfigError(
                f"a video frame ({self.samples_per_video_frame} samples) must span a whole number "
                f"of MFCC hops ({self.frame_step} samples); change frame_step_ms or fps."
            )
        if self.frame_length > self.fft_length:
            raise ConfigError(
                f"frame_length_ms={self.frame_length_ms} gives {self.frame_length} samples, more "
                f"than fft_length={self.fft_length}; raise fft_length to a power of two above it."
            )
        if self.fft_length & (self.fft_length - 1):
            raise ConfigError(
                f"fft_length={self.fft_length} must be a power of two (TFLite's builtin RFFT "
                "supports nothing else)."
            )
        if not 0 <= self.lower_hz < self.upper_hz <= self.sample_rate / 2:
            raise ConfigError(
                f"mel band [{self.lower_hz}, {self.upper_hz}] Hz must lie inside "
                f"[0, {self.sample_rate / 2}] Hz and be non-empty."
            )
        if not 1 <= self.n_mfcc <= self.n_mels:
            raise ConfigError(f"n_mfcc={self.n_mfcc} must be between 1 and n_mels={self.n_mels}.")
        if self.window_frames < 1:
            raise ConfigError(f"window_seconds={self.window_seconds} is shorter than one MFCC hop.")

    @property
    def samples_per_video_frame(self) -> int:
        return self.sample_rate // self.fps

    @property
    def frame_length(self) -> int:
        """STFT window length in samples."""
        return round(self.sample_rate * self.frame_length_ms / 1000)

    @property
    def frame_step(self) -> int:
        """STFT hop in samples."""
        return round(self.sample_rate * self.frame_step_ms / 1000)

    @property
    def hops_per_video_frame(self) -> int:
        return self.samples_per_video_frame // self.frame_step

    @property
    def window_frames(self) -> int:
        """MFCC frames in the window given to each video frame."""
        return round(self.window_seconds * 1000 / self.frame_step_ms)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Sizes of the generator and both discriminators. Defaults are the paper-sized model."""

    audio: AudioFeatureConfig = dataclasses.field(default_factory=AudioFeatureConfig)
    # Identity encoder: five stride-2 convs, then a (4, 3) conv to the identity code. The outputs
    # of the first four are the decoder's U-Net skips.
    identity_filters: tuple[int, ...] = (64, 128, 256, 512, 512)
    identity_dim: int = 50
    # Audio encoder ("You Said That?" style): 5 convs over each (window, n_mfcc) MFCC patch,
    # 2 dense layers, then a GRU stack over time.
    audio_conv_filters: tuple[int, ...] = (64, 128, 256, 256, 512)
    audio_fc_units: tuple[int, ...] = (512, 256)
    audio_gru_units: tuple[int, ...] = (256, 256)
    # Layer-normalise each frame's audio code before the GRUs. Without it the CPU demo's codes grew
    # (mean |x| 0.36 -> 3.1 in 2200 steps) and saturated the GRU (output change for other audio:
    # 1e-7). With it they stay at unit scale, but they still barely change over time, so the CPU
    # demo still ignores the audio (see its model card). Off by default: the paper's layers.
    audio_code_norm: bool = False
    # Noise generator: GRU stack over N(0, noise_std) noise; the last layer has noise_dim units.
    # The paper's N(0, 0.6) is a variance: 0.77 is its standard deviation.
    noise_dim: int = 10
    noise_std: float = 0.77
    noise_gru_units: tuple[int, ...] = (10, 10)
    # Frame decoder: filters of the first transposed conv (1x1 -> 4x3), then of the four
    # (transposed conv, conv) stages that meet the identity skips, largest skip last.
    decoder_filters: tuple[int, ...] = (512, 512, 256, 128, 64)
    # Three options for lip sync and a sharp face (off by default: the paper's generator):
    # - mouth_head: the audio codes predict each frame's lip shape (supervised by face-mesh lips)
    #   and the decoder is given that shape, see models/generator.py;
    # - decoder_condition_channels > 0: the speech condition enters every decoder stage, not only
    #   the 4x3 seed, so the identity skips cannot simply copy the still's mouth;
    # - blend_mask: frames are mask * drawn + (1 - mask) * still, the mask confined to the lower
    #   face (face_geometry.lower_face_prior), so what speech does not move stays the still, sharp.
    mouth_head: bool = False
    decoder_condition_channels: int = 0
    blend_mask: bool = False
    # With blend_mask: the decoder also predicts a displacement field that warps the still's
    # lower face (lips apart, jaw down) before the drawn pixels are blended in.
    warp_still: bool = False
    # Where the blend mask may draw: "lower_face" (mouth, jaw and chin) or "mouth" (the mouth
    # alone, `face_geometry.mouth_prior`): with a warp, lips, jaw and chin then move as the
    # photo's own pixels and only the mouth's inside is drawn, so bin/generate can move the
    # photo at its own resolution and draw nothing else.
    mask_region: str = "lower_face"
    # With mouth_head: the decoder is shown mouth_gain x the head's lip shape. A head trained by
    # squared error predicts shapes shrunk towards the mean (by about its correlation with the
    # real lips), and the decoder draws a fraction of the shape it is shown, so a trained model's
    # mouth moves less than a real one. bin/export --mouth_gain sets it for an export; training
    # keeps 1.
    mouth_gain: float = 1.0
    # Group normalisation is per example and per frame, so it behaves the same in training and
    # inference, on any number of replicas, and chunk by chunk.
    norm_groups: int = 8
    frame_disc_filters: tuple[int, ...] = (64, 128, 256, 512)
    frame_disc_fc_units: int = 256
    seq_disc_image_filters: tuple[int, ...] = (32, 64, 128, 256)
    seq_disc_frame_dim: int = 256
    seq_disc_gru_units: int = 256
    spp_levels: tuple[int, ...] = (1, 2, 4)
    seq_disc_fc_units: int = 256

    def __post_init__(self) -> None:
        expected = {
            "identity_filters": 5,
            "audio_conv_filters": 5,
            "audio_fc_units": 2,
            "decoder_filters": 5,
            "frame_disc_filters": 4,
            "seq_disc_image_filters": 4,
        }
        for name, length in expected.items():
            if len(getattr(self, name)) != length:
                raise ConfigError(
                    f"{name} needs {length} entries (one per layer of the paper's network), "
                    f"got {getattr(self, name)}."
                )
        for name in ("audio_gru_units", "noise_gru_units", "spp_levels"):
            if not getattr(self, name):
                raise ConfigError(f"{name} must not be empty.")
        if self.noise_gru_units[-1] != self.noise_dim:
            raise ConfigError(
                f"the last noise GRU layer must have noise_dim={self.noise_dim} units, "
                f"got noise_gru_units={self.noise_gru_units}."
            )
        if self.warp_still and not self.blend_mask:
            raise ConfigError("warp_still needs blend_mask: the warped still is what is blended.")
        if self.mask_region not in ("lower_face", "mouth"):
            raise ConfigError(
                f"mask_region must be 'lower_face' or 'mouth', got {self.mask_region!r}."
            )
        if self.mouth_gain <= 0:
            raise ConfigError(f"mouth_gain must be positive, got {self.mouth_gain}.")
        if self.mouth_gain != 1.0 and not self.mouth_head:
            raise ConfigError("mouth_gain needs mouth_head: it scales the head's mouth shape.")
        if self.norm_groups < 1:
            raise ConfigError(f"norm_groups must be at least 1, got {self.norm_groups}.")

    @classmethod
    def tiny(cls) -> ModelConfig:
        """Every layer of the real model with a handful of filters: for unit tests."""
        return cls(
            identity_filters=(4, 4, 8, 8, 8),
            identity_dim=6,
            audio_conv_filters=(4, 4, 8, 8, 8),
            audio_fc_units=(16, 8),
            audio_gru_units=(8, 8),
            noise_dim=3,
            noise_gru_units=(4, 3),
            decoder_filters=(8, 8, 8, 4, 4),
            norm_groups=2,
            frame_disc_filters=(4, 4, 8, 8),
            frame_disc_fc_units=8,
            seq_disc_image_filters=(4, 4, 8, 8),
            seq_disc_frame_dim=8,
            seq_disc_gru_units=8,
            seq_disc_fc_units=8,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelConfig:
        known = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"unknown model config keys {unknown}; known keys: {sorted(known)}.")
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if name == "audio":
                kwargs[name] = (
                    value
                    if isinstance(value, AudioFeatureConfig)
                    else audio_config_from_dict(value)
                )
            elif isinstance(value, list):
                kwargs[name] = tuple(value)
            else:
                kwargs[name] = value
        return cls(**kwargs)

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> ModelConfig:
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(f"cannot read model config {path}: {error}") from error
        return cls.from_dict(values)


def audio_config_from_dict(values: Mapping[str, Any]) -> AudioFeatureConfig:
    known = {field.name for field in dataclasses.fields(AudioFeatureConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown audio config keys {unknown}; known keys: {sorted(known)}.")
    return AudioFeatureConfig(**values)


def group_count(channels: int, max_groups: int) -> int:
    """Largest number of normalisation groups <= max_groups that divides `channels`."""
    return math.gcd(channels, max_groups)


def option(default: Any, help: str, *, choices: tuple[str, ...] = ()) -> Any:
    """A config field that is also a command-line flag: `help` is its `--help` text and
    `choices` (for strings) the values it accepts. `lipsync_tf.flags` derives the flags of
    `bin/` commands from these fields, so a knob is declared once, here."""
    metadata: dict[str, Any] = {"help": help}
    if choices:
        metadata["choices"] = tuple(choices)
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default_factory=lambda: tuple(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which clips are read and how training examples are cut from them.

    An example is a window of `window_frames` consecutive frames of one clip, the MFCC windows of
    the same stretch of audio, an identity still from the same clip and (for the sequence
    discriminator) the MFCC of a different stretch of the same clip, at least
    `offsync_min_frames` away, as an out-of-sync negative. Every field is a `bin/train` flag.
    """

    data_dir: str = option(
        "", "Shard directories of bin/prepare_data (train.tfrecord-*), comma-separated."
    )
    window_frames: int = option(16, "Frames per training example (T).")
    batch_size: int = option(4, "Global batch size (all replicas of all workers).")
    still: str = option(
        "random",
        "Which frame is the identity still: the clip's first (what bin/evaluate uses) or a "
        "random frame outside the window.",
        choices=("first", "random"),
    )
    validation_speakers: tuple[str, ...] = option(
        (), "Speaker ids held out for validation (speaker-disjoint); never trained on."
    )
    validation_fraction: float = option(
        0.0,
        "Without --validation_speakers: hold out about this fraction of speakers (stable hash).",
    )
    offsync_min_frames: int = option(
        5, "Min shift (frames) of the same clip's audio used as the out-of-sync negative."
    )
    flip: bool = option(
        False,
        "Mirror half the training examples (still and frames together): doubles the "
        "identities a small dataset shows without touching lip sync.",
    )
    jitter: float = option(
        0.0,
        "Zoom and shift training examples (still and frames together) by up to this fraction, "
        "so a face framed by another cropping tool looks familiar. 0: off.",
    )
    jitter_max_scale: float = option(
        0.0,
        "With --jitter: draw the crop window's size factor from [1/(1+jitter), this] instead "
        "(bin/evaluate --crop_scale units; above 1 the face is smaller), for tools that frame "
        "faces more loosely. 0: off.",
    )
    jitter_min_scale: float = option(
        0.0,
        "With --jitter: the smallest crop window size factor (below 1 the face is larger, a "
        "tighter crop) instead of 1/(1+jitter); shifts stay within +- jitter. 0: off.",
    )
    color_jitter: float = option(
        0.0,
        "Change training examples' brightness (by up to this, pixels in [-1, 1]), contrast and "
        "saturation (by factors 1 +- this), still and frames together. 0: off.",
    )
    audio_gain_db: float = option(
        0.0,
        "Scale each example's audio by a random gain within +- this many dB (clipped), so "
        "quiet and loud recordings move the mouth alike. 0: off.",
    )
    audio_tilt: float = option(
        0.0,
        "Filter each example's audio with y[n] = x[n] - c x[n-1] (scaled), c drawn within +- "
        "this (below 1), so microphones that lift the highs or the lows move the mouth alike. "
        "0: off.",
    )
    audio_reverb: float = option(
        0.0,
        "Probability of putting an example's audio in a synthetic room (RT60 0.15-0.8 s; "
        "data/audio_augment.py).",
    )
    audio_noise: float = option(
        0.0, "Probability of adding background noise to an example's audio (10-30 dB SNR)."
    )
    audio_band_limit: float = option(
        0.0,
        "Probability of band-limiting an example's audio (high-pass 50-400 Hz, low-pass "
        "3-7.6 kHz), as small loudspeakers and phone microphones do.",
    )
    audio_codec: float = option(
        0.0,
        "Probability of giving an example's audio a low-bit-rate codec's traces (low-pass "
        "3.4-6 kHz, 6-8 bit mu-law).",
    )
    speaker_balance: float = option(
        0.0,
        "0: every clip equally likely; 1: every speaker equally likely; between: a speaker's "
        "share of examples goes as (its clips) ** (1 - this).",
    )
    shuffle_buffer: int = option(256, "Clips in the shuffle buffer.")
    seed: int = option(0, "Seed of every random choice (data and training).")
    deterministic: bool = option(
        False, "Same batches in the same order on every run (tests, resume checks)."
    )

    def __post_init__(self) -> None:
        if self.window_frames < 2:
            raise ConfigError(f"window_frames must be at least 2, got {self.window_frames}.")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {self.batch_size}.")
        if self.still not in ("first", "random"):
            raise ConfigError(f"still must be 'first' or 'random', got {self.still!r}.")
        if not 0.0 <= self.jitter < 0.5:
            raise ConfigError(f"jitter must be in [0, 0.5), got {self.jitter}.")
        if self.jitter_max_scale and not (self.jitter and 1.0 <= self.jitter_max_scale <= 1.5):
            raise ConfigError(
                f"jitter_max_scale {self.jitter_max_scale} needs jitter and must be in [1, 1.5] "
                "(0: off)."
            )
        if not 0.0 <= self.color_jitter < 0.5:
            raise ConfigError(f"color_jitter must be in [0, 0.5), got {self.color_jitter}.")
        if not 0.0 <= self.audio_gain_db <= 30.0:
            raise ConfigError(f"audio_gain_db must be in [0, 30], got {self.audio_gain_db}.")
        if not 0.0 <= self.audio_tilt < 1.0:
            raise ConfigError(f"audio_tilt must be in [0, 1), got {self.audio_tilt}.")
        for name in ("audio_reverb", "audio_noise", "audio_band_limit", "audio_codec"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} is a probability, in [0, 1]; got {getattr(self, name)}.")
        if self.jitter_min_scale and not (self.jitter and 0.5 <= self.jitter_min_scale <= 1.0):
            raise ConfigError(
                f"jitter_min_scale {self.jitter_min_scale} needs jitter and must be in [0.5, 1] "
                "(0: off)."
            )
        if not 0.0 <= self.speaker_balance <= 1.0:
            raise ConfigError(f"speaker_balance must be in [0, 1], got {self.speaker_balance}.")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(
                f"validation_fraction must be in [0, 1), got {self.validation_fraction}."
            )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation and loss weights of the GAN (defaults follow the paper where it is specific).

    Each generator loss of `training/losses.py` has its weight here, named `<loss>_weight`; a
    loss whose weight is 0 is not computed. Every field is a `bin/train` flag.
    """

    train_steps: int = option(100_000, "Total generator steps to train to.")
    g_learning_rate: float = option(2e-3, "Generator Adam learning rate.")
    d_learning_rate: float = option(2e-5, "Discriminators' Adam learning rate.")
    beta_1: float = option(0.5, "Adam beta_1 (both optimizers).")
    beta_2: float = option(0.999, "Adam beta_2 (both optimizers).")
    # Loss weights: the paper's loss is the two adversarial terms and the L1.
    frame_adv_weight: float = option(1.0, "Weight of the frame discriminator's adversarial loss.")
    seq_adv_weight: float = option(1.0, "Weight of the sequence discriminator's adversarial loss.")
    mouth_adv_weight: float = option(
        0.0,
        "Weight of the adversarial loss against a discriminator of the mouth alone (a patch "
        "around the lips, next to the still's): teeth and gap instead of a dark blur. 0: off, "
        "and no mouth discriminator.",
    )
    mouth_d_learning_rate: float = option(
        0.0,
        "The mouth discriminator's own Adam learning rate (0: it shares --d_learning_rate and "
        "the other discriminators' optimizer).",
    )
    l1_weight: float = option(
        100.0, "Weight of the L1 reconstruction, (1 + mouth_weight) on the lower face."
    )
    mouth_weight: float = option(2.0, "Extra L1 weight on the lower face (mouth) region.")
    motion_weight: float = option(
        0.0,
        "Weight of the L1 between generated and real frame-to-frame change on the lower face.",
    )
    audio_mouth_weight: float = option(
        0.0,
        "Weight of the auxiliary loss that predicts the real mouth's brightness changes from "
        "the audio codes (a direct signal for the audio encoder). 0: off, as in the paper.",
    )
    mouth_head_weight: float = option(
        0.0,
        "Weight of the mouth head's squared error against the real lip shapes (model config "
        "mouth_head: true).",
    )
    teacher_forcing: float = option(
        0.0, "Fraction of examples whose decoder draws the real lip shape instead of the head's."
    )
    pretrain_mouth_steps: int = option(
        0,
        "Before the GAN starts, train the audio encoder and mouth head alone for this many "
        "audio-only batches (training/pretrain.py). 0: off.",
    )
    pretrain_batch_size: int = option(32, "Windows per audio-only pretraining batch.")
    lip_reader: str = option("", "Frozen lip reader (.keras file of bin/train_expert).")
    lip_reader_weight: float = option(
        0.0, "Weight of the L1 between the lips the lip reader sees in generated and real frames."
    )
    sync_expert: str = option("", "Frozen sync expert (.keras file of bin/train_expert).")
    sync_weight: float = option(0.0, "Weight of the sync expert's out-of-sync loss.")
    mask_weight: float = option(
        0.0,
        "Weight of the blend mask's mean: drawing where the warped still would do costs (model "
        "config blend_mask: true).",
    )
    flow_lips_weight: float = option(
        0.0,
        "Weight of the L1 (pixels) between the still's warp at the real lip points and the "
        "displacement that moves the still's lips there (model config warp_still: true).",
    )
    mouth_mask_weight: float = option(
        0.0,
        "Weight of the blend mask's mean outside the real mouth's inside (face-mesh inner lips): "
        "drawn pixels only where the lips part, lips and jaw from the warped photo (model "
        "config blend_mask: true).",
    )
    mouth_mask_edge: int = option(
        3,
        "Crop pixels over which --mouth_mask_weight's target (the real mouth's inside) is "
        "softened at its edge: with 3 (the default) lips parted by three rows ask for about a "
        "quarter of a full mask, with 1 for about three quarters. The face mesh places the "
        "lips to about 2-3 pixels.",
    )
    lip_color_weight: float = option(
        0.0,
        "Weight of the CIELAB a*b* distance between the mean colour of the generated and the "
        "real lips (face-mesh lip flesh): no tint on the lips.",
    )
    mouth_tones_weight: float = option(
        0.0,
        "Weight of the 1-D Wasserstein distance, over the batch's open mouths, between the "
        "generated and the real colour quantiles inside the mouth (face-mesh inner lips): as "
        "many frames with teeth as the real batch, not one dark blur in every frame.",
    )
    init_generator: str = option(
        "",
        "A generator-N.weights.h5 (same model config) to start a new run from; ignored when "
        "--model_dir already has checkpoints.",
    )
    frame_samples: int = option(2, "Frames per clip the frame discriminator sees, S(x).")
    checkpoint_every: int = option(200, "Steps between checkpoints.")
    keep_checkpoints: int = option(3, "Checkpoints to keep.")
    summary_every: int = option(100, "Steps between TensorBoard scalars.")
    validation_every: int = option(500, "Steps between validation passes and samples.")
    validation_batches: int = option(8, "Batches per validation pass.")
    seed: int = option(0, "Seed of every random choice (data and training).")


def _dataclass_from_dict(cls, values: Mapping[str, Any]):
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys {unknown}; known keys: {sorted(known)}.")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def data_config_from_dict(values: Mapping[str, Any]) -> DataConfig:
    return _dataclass_from_dict(DataConfig, values)


def train_config_from_dict(values: Mapping[str, Any]) -> TrainConfig:
    return _dataclass_from_dict(TrainConfig, values)
