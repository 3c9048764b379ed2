"""How much of the mouth's motion the audio predicts: the reference the generator is judged by.

Two predictors of the face mesh's mouth opening from the model's own MFCC windows, both scored
by Pearson r per clip on speakers they never saw:

- a ridge regression (`RidgeProbe`): each video frame's own 4 MFCC hops (the middle of its
  window), stacked over +-8 frames (884 numbers), standardised, to the clip's z-scored mouth
  opening. Linear, so what it finds the audio carries for sure;
- a trained generator's mouth head (`ModelConfig.mouth_head`): the inner-lip gap of the lip
  shapes it predicts from the audio codes.

A generator whose drawn mouth reaches the ridge's r uses what the audio says about the mouth.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lipsync_tf.config import AudioFeatureConfig, DataConfig

# Ridge features: the 4 MFCC hops of the frame itself (10 ms hops, 40 ms per frame), the
# frame's window being centred on it, and this many frames of context on each side.
CONTEXT_FRAMES = 8
RIDGE_LAMBDA = 1e4


@dataclasses.dataclass
class ProbeClip:
    clip_id: str
    speaker_id: str
    mfcc: np.ndarray  # [T, window, n_mfcc]
    opening: np.ndarray  # [T]
    valid: np.ndarray  # [T] bool, the face mesh trusted the frame


def load_clips(data_dir: str, audio: AudioFeatureConfig) -> list[ProbeClip]:
    """Every clip of the shards in `data_dir` (comma-separated for several), MFCC and mouth."""
    import tensorflow as tf

    from lipsync_tf.audio.mfcc import MfccWindows
    from lipsync_tf.data import reader, schema

    mfcc = MfccWindows(audio)
    clips = []
    for record in tf.data.TFRecordDataset(reader.shard_files(data_dir)).map(schema.parse):
        windows = mfcc(record["audio"][None])[0].numpy()
        count = min(len(windows), int(record["num_frames"]))
        clips.append(
            ProbeClip(
                clip_id=record["clip_id"].numpy().decode(),
                speaker_id=record["speaker_id"].numpy().decode(),
                mfcc=windows[:count],
                opening=record["mouth_opening"].numpy()[:count].astype(np.float64),
                valid=record["landmark_scores"].numpy()[:count] >= 0.5,
            )
        )
    return clips


def ridge_features(mfcc: np.ndarray, context: int = CONTEXT_FRAMES) -> np.ndarray:
    """[T, window, n_mfcc] -> [T, (2 context + 1) * 4 * n_mfcc], edges repeated."""
    frames, window = mfcc.shape[:2]
    middle = window // 2
    own = mfcc[:, middle - 2 : middle + 2].reshape(frames, -1)
    padded = np.pad(own, ((context, context), (0, 0)), mode="edge")
    return np.concatenate([padded[i : i + frames] for i in range(2 * context + 1)], axis=1)


def _zscore(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() + 1e-8)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r; 0 when either series is constant (a mouth that never moves)."""
    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


class RidgeProbe:
    """Ridge regression from `ridge_features` to the per-clip z-scored mouth opening."""

    def __init__(self, penalty: float = RIDGE_LAMBDA):
        self.penalty = penalty

    def fit(self, clips: list[ProbeClip]) -> RidgeProbe:
        features = np.concatenate([ridge_features(c.mfcc)[c.valid] for c in clips])
        target = np.concatenate([_zscore(c.opening[c.valid]) for c in clips])
        self.mean = features.mean(axis=0)
        self.scale = features.std(axis=0) + 1e-6
        x = (features - self.mean) / self.scale
        gram = x.T @ x + self.penalty * np.eye(x.shape[1])
        self.weights = np.linalg.solve(gram, x.T @ target)
        return self

    def predict(self, clip: ProbeClip) -> np.ndarray:
        return ((ridge_features(clip.mfcc) - self.mean) / self.scale) @ self.weights

    def clip_r(self, clip: ProbeClip) -> float:
        return pearson(self.predict(clip)[clip.valid], clip.opening[clip.valid])


def split(clips: list[ProbeClip], held_out: list[str]) -> tuple[list, list]:
    train = [c for c in clips if c.speaker_id not in held_out]
    test = [c for c in clips if c.speaker_id in held_out]
    return train, test


def speaker_mean(values: dict[str, float], clips: list[ProbeClip]) -> float:
    """Mean over speakers of each speaker's mean over its clips (`values` by clip id)."""
    by_speaker: dict[str, list[float]] = {}
    for clip in clips:
        by_speaker.setdefault(clip.speaker_id, []).append(values[clip.clip_id])
    return float(np.mean([np.mean(v) for v in by_speaker.values()]))


def leave_one_speaker_out(clips: list[ProbeClip], penalty: float = RIDGE_LAMBDA) -> dict:
    """The ridge trained on every speaker but one, tested on that one, for each speaker."""
    per_clip = {}
    for speaker in sorted({c.speaker_id for c in clips}):
        train, test = split(clips, [speaker])
        probe = RidgeProbe(penalty).fit(train)
        per_clip.update({c.clip_id: probe.clip_r(c) for c in test})
    return {"speakers": len({c.speaker_id for c in clips}), "mean_r": speaker_mean(per_clip, clips)}


def head_predictions(generator, clip: ProbeClip) -> np.ndarray:
    """The mouth opening (inner-lip gap) a generator's mouth head predicts for a whole clip."""
    from lipsync_tf.face_geometry import lip_gap

    codes = generator.audio_encoder(clip.mfcc[None], training=False)
    shapes = generator.mouth_head(codes).numpy()[0].reshape(len(clip.mfcc), -1, 2)
    return lip_gap(shapes)


# Kinds of speaker, by speaker-id prefix (configs/data speaker maps): studio GRID talkers,
# VoxCeleb2-style interview crops, HDTF-style talking heads from other projects' examples, and
# the lrc_ar news anchors.
SPEAKER_GROUPS = (
    ("grid", "GRID"),
    ("s", "GRID"),
    ("vox2_", "VoxCeleb2-style"),
    ("lrc_ar_", "anchors"),
)


def speaker_group(speaker: str) -> str:
    """Which kind of speaker `speaker` is: GRID, VoxCeleb2-style, anchors or HDTF-style."""
    for prefix, group in SPEAKER_GROUPS:
        if speaker.startswith(prefix) and (prefix != "s" or speaker[1:].isdigit()):
            return group
    return "HDTF-style"


def group_means(rows: dict[str, dict], key: str) -> dict[str, tuple[float, int]]:
    """Mean of `key` over the clips of each speaker group: {group: (mean r, clips)}."""
    values: dict[str, list[float]] = {}
    for row in rows.values():
        if key in row and np.isfinite(row[key]):
            values.setdefault(speaker_group(row["speaker"]), []).append(float(row[key]))
    return {group: (float(np.mean(v)), len(v)) for group, v in sorted(values.items())}


def paired_with_ridge(ridge_by_clip: dict[str, float], evaluations: list[dict]) -> dict:
    """The drawn mouth's r against the ridge's on the same clips, clip by clip.

    ridge_by_clip: the ridge's r by clip id (`probe`'s rows); evaluations: one or more
    `bin/evaluate --output` results (e.g. one per noise seed), whose per-clip MouthR is averaged
    over them. With a handful of clips the clip-to-clip spread is large, so a difference of means
    says little on its own: this returns per clip (model r, ridge r), both means over clips (not
    `probe`'s mean over speakers: the pairing is by clip), the mean difference, its standard
    error over clips and a 95 % interval (Student's t), over the clips both scored.
    """
    model: dict[str, list[float]] = {}
    for evaluation in evaluations:
        for clip in evaluation["clips"]:
            value = clip["systems"]["model"].get("mouth_corr")
            if value is not None:
                model.setdefault(clip["clip_id"], []).append(float(value))
    return paired_scores(ridge_by_clip, model)


def paired_scores(ridge_by_clip: dict[str, float], model: dict[str, list[float]]) -> dict:
    """`paired_with_ridge` for any model scores: {clip id: [r, ...]} (averaged per clip)."""
    model = {
        clip_id: [v for v in values if np.isfinite(v)]
        for clip_id, values in model.items()
        if clip_id in ridge_by_clip
    }
    model = {clip_id: values for clip_id, values in model.items() if values}
    clips = sorted(model)
    if len(clips) < 2:
        raise ValueError(
            f"{len(clips)} clip(s) scored by both the evaluation and the ridge; need 2 or more "
            "(evaluate the validation speakers' clips)."
        )
    pairs = {c: (float(np.mean(model[c])), float(ridge_by_clip[c])) for c in clips}
    mean, error, interval = t_interval(np.array([m - r for m, r in pairs.values()]))
    return {
        "clips": pairs,
        "model_clip_mean_r": float(np.mean([m for m, _ in pairs.values()])),
        "ridge_clip_mean_r": float(np.mean([r for _, r in pairs.values()])),
        "mean_difference": mean,
        "standard_error": error,
        "interval95": interval,
    }


def by_speaker(paired: dict, speaker_of: dict[str, str]) -> dict:
    """`paired_scores`' differences averaged per speaker first (clips of one speaker are not
    independent): the mean over speakers, its standard error and 95 % interval (Student's t),
    and the speakers' count. Needs 2 or more speakers."""
    per_speaker: dict[str, list[float]] = {}
    for clip_id, (model_r, ridge_r) in paired["clips"].items():
        per_speaker.setdefault(speaker_of[clip_id], []).append(model_r - ridge_r)
    mean, error, interval = t_interval(np.array([np.mean(v) for v in per_speaker.values()]))
    return {
        "speakers": len(per_speaker),
        "mean_difference": mean,
        "standard_error": error,
        "interval95": interval,
    }


def t_interval(values: np.ndarray) -> tuple[float, float, tuple[float, float]]:
    """Mean, standard error and 95 % Student's t interval of `values` (2 or more)."""
    from scipy import stats

    error = float(values.std(ddof=1) / np.sqrt(len(values)))
    half = float(stats.t.ppf(0.975, len(values) - 1) * error)
    mean = float(values.mean())
    return mean, error, (mean - half, mean + half)


def probe(data: DataConfig, audio: AudioFeatureConfig, generator=None, loso: bool = False) -> dict:
    """Ridge (trained on the training speakers) and, with a `generator` that has a mouth head,
    its head, scored on the validation speakers' clips; with `loso`, the ridge's
    leave-one-speaker-out mean over every speaker as well."""
    from lipsync_tf.data import reader

    clips = load_clips(data.data_dir, audio)
    held_out = reader.validation_speakers(data, sorted({c.speaker_id for c in clips}))
    train, test = split(clips, held_out)
    if not test:
        raise ValueError("no validation clips: set validation_speakers.")
    ridge = RidgeProbe().fit(train)
    rows = {c.clip_id: {"speaker": c.speaker_id, "ridge": ridge.clip_r(c)} for c in test}
    result = {
        "validation_speakers": held_out,
        "train_clips": len(train),
        "clips": rows,
        "ridge_mean_r": speaker_mean({k: v["ridge"] for k, v in rows.items()}, test),
    }
    if generator is not None and generator.mouth_head is not None:
        for clip in test:
            predicted = head_predictions(generator, clip)
            rows[clip.clip_id]["head"] = pearson(predicted[clip.valid], clip.opening[clip.valid])
        result["head_mean_r"] = speaker_mean({k: v["head"] for k, v in rows.items()}, test)
    if loso:
        result["ridge_leave_one_speaker_out"] = leave_one_speaker_out(clips)
    return result
