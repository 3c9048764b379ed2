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
    #   face (models/mouth_region.py), so what speech does not move stays the still, sharp.
    mouth_head: bool = False
    decoder_condition_channels: int = 0
    blend_mask: bool = False
    # With blend_mask: the decoder also predicts a displacement field that warps the still's
    # lower face (lips apart, jaw down) before the drawn pixels are blended in.
    warp_still: bool = False
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


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which clips are read and how training examples are cut from them.

    An example is a window of `window_frames` consecutive frames of one clip, the MFCC windows of
    the same stretch of audio, an identity still from the same clip and (for the sequence
    discriminator) the MFCC of a different stretch of the same clip, at least
    `offsync_min_frames` away, as an out-of-sync negative.
    """

    data_dir: str = ""
    window_frames: int = 16
    batch_size: int = 4
    # "first": the clip's first frame (what bin/evaluate uses); "random": a random frame of the
    # clip outside the window when there is one.
    still: str = "random"
    # Speakers held out for validation (speaker-disjoint). Empty: pick speakers by a stable hash
    # so that about `validation_fraction` of them are held out.
    validation_speakers: tuple[str, ...] = ()
    validation_fraction: float = 0.0
    offsync_min_frames: int = 5
    # Mirror half of the training examples (still and frames together): doubles the identities a
    # small dataset shows without touching lip sync.
    flip: bool = False
    # Zoom and shift each training example (still and frames together) by up to this fraction,
    # so a face framed by another cropping tool looks familiar. 0: off.
    jitter: float = 0.0
    # With jitter: the crop window's size factor is drawn from [1 / (1 + jitter),
    # jitter_max_scale] instead of the zoom in 1 +- jitter (bin/evaluate --crop_scale units; above
    # 1 the face is smaller), for tools that frame the face more loosely than ours. 0: off.
    jitter_max_scale: float = 0.0
    # Change each training example's brightness, contrast and saturation (still and frames
    # together) by up to this much (brightness in [-1, 1] pixel units, the others as factors
    # 1 +- this), so faces lit and graded unlike the few training speakers look familiar. 0: off.
    color_jitter: float = 0.0
    # Scale each training example's audio by a gain drawn uniformly in +- this many dB (clipped to
    # [-1, 1]), so a recording quieter or louder than the training clips moves the mouth alike.
    # 0: off.
    audio_gain_db: float = 0.0
    # Filter each training example's audio with a first-order filter whose coefficient is drawn
    # uniformly in +- this (data/reader.py `tilt_audio`: lifts the highs or the lows), so
    # microphones and rooms unlike the training clips' move the mouth alike. 0: off.
    audio_tilt: float = 0.0
    # Speaker k's share of training examples goes as (its clip count) ** (1 - speaker_balance):
    # 0 samples every clip alike, 1 every speaker alike (data/reader.py).
    speaker_balance: float = 0.0
    shuffle_buffer: int = 256
    seed: int = 0
    # Deterministic: same batches in the same order on every run (tests, resume checks).
    deterministic: bool = False

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
        if not 0.0 <= self.speaker_balance <= 1.0:
            raise ConfigError(f"speaker_balance must be in [0, 1], got {self.speaker_balance}.")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(
                f"validation_fraction must be in [0, 1), got {self.validation_fraction}."
            )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation and loss weights of the GAN (defaults follow the paper where it is specific)."""

    train_steps: int = 100_000
    g_learning_rate: float = 2e-3
    d_learning_rate: float = 2e-5
    beta_1: float = 0.5
    beta_2: float = 0.999
    # Generator loss = frame_adv_weight * adv(frame D) + seq_adv_weight * adv(sequence D)
    #                + l1_weight * mean(|generated - real| * (1 + mouth_weight * lower_face_mask))
    #                + motion_weight * mean over the lower face(|d generated/dt - d real/dt|),
    # d/dt being the change from one frame to the next. motion_weight 0 is the paper's loss.
    frame_adv_weight: float = 1.0
    seq_adv_weight: float = 1.0
    l1_weight: float = 100.0
    mouth_weight: float = 2.0
    motion_weight: float = 0.0
    # Auxiliary audio -> mouth loss: a linear head on the audio codes predicts how the real mouth
    # region's brightness changes within the window (see gan.mouth_dynamics); this weight times
    # its L1. It gives the audio encoder a direct signal; 0 (the paper) leaves it out.
    audio_mouth_weight: float = 0.0
    # With ModelConfig.mouth_head: weight of the head's squared error against the real lip shapes,
    # and the fraction of examples whose decoder is shown the real shape instead (teacher forcing).
    mouth_head_weight: float = 0.0
    teacher_forcing: float = 0.0
    # Before the GAN's first step, train the audio encoder and mouth head alone for this many
    # audio-only batches of pretrain_batch_size windows (training/pretrain.py). 0: off.
    pretrain_mouth_steps: int = 0
    pretrain_batch_size: int = 32
    # Frozen experts (bin/train_expert; .keras files) and the weights of their losses: the lip
    # reader's L1 between generated and real lip shapes, the sync expert's out-of-sync loss.
    lip_reader: str = ""
    lip_reader_weight: float = 0.0
    sync_expert: str = ""
    sync_weight: float = 0.0
    # With ModelConfig.blend_mask: weight of the blend mask's mean (keep the still where it does).
    mask_weight: float = 0.0
    # With ModelConfig.warp_still: weight of the L1 (pixels) between the displacement at each
    # real lip point and the one that brings the still's lip point there (face-mesh landmarks).
    flow_lips_weight: float = 0.0
    # Start a new run from this generator checkpoint (a generator-N.weights.h5 of the same model
    # config); ignored when the model directory already has checkpoints to resume from.
    init_generator: str = ""
    # Frames per clip the frame discriminator sees, sampled uniformly: S(x).
    frame_samples: int = 2
    checkpoint_every: int = 200
    keep_checkpoints: int = 3
    summary_every: int = 100
    validation_every: int = 500
    validation_batches: int = 8
    seed: int = 0


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
