"""How much of the mouth's motion the audio predicts, and how much of it a model has learnt.

    python bench/audio_mouth_probe.py --data_dir /data/clips,/data/grid_s1 \
        --validation_speakers grid_spkD,grid_spkH,vox2_V02,vox2_V07,videoretalking_face5 \
        [--model_dir runs/cpu_lipsync [--step N]] [--loso_data_dir /data/clips] \
        [--evaluation eval_seed0.json,eval_seed1.json]

Prints, on the validation speakers' clips (Pearson r with the face mesh's mouth opening, mean
over speakers of the mean over their clips):
- the ridge baseline (lipsync_tf/evaluation/audio_probe.py) trained on the other speakers;
- with --model_dir, the trained generator's mouth head on the same clips;
- with --loso_data_dir, the ridge trained on all speakers of that data but one and tested on
  the one left out, for each speaker (the reference figure: 0.43 on ../shared/data/clips);
- with --evaluation (`bin/evaluate --output` files of an exported model on the validation
  speakers' clips, e.g. one per noise seed): the drawn mouth's MouthR against the ridge on the
  same clips, clip by clip, with the mean difference and its 95 % interval over clips;
- with --product (a `bench/mouth_quality.py --output` file): the same for what bin/generate
  writes at the photo's resolution (one of its systems, --product_system).
The generator's drawn mouth is judged against these (bin/evaluate's MouthR).
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from lipsync_tf.config import AudioFeatureConfig, DataConfig
from lipsync_tf.evaluation import audio_probe


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--validation_speakers", required=True)
    parser.add_argument("--model_dir")
    parser.add_argument("--step", type=int)
    parser.add_argument("--loso_data_dir")
    parser.add_argument(
        "--evaluation", help="comma-separated bin/evaluate --output JSON files to compare"
    )
    parser.add_argument(
        "--product",
        help="a bench/mouth_quality.py --output JSON: its per-clip mouth r (what bin/generate "
        "writes) against the ridge on the same clips, clip by clip",
    )
    parser.add_argument(
        "--product_system",
        default="exported_models/lipsync seed 0",
        help="which of that file's systems (its table's row names)",
    )
    parser.add_argument("--output", help="also write the numbers as JSON here")
    args = parser.parse_args()

    data = DataConfig(
        data_dir=args.data_dir, validation_speakers=tuple(args.validation_speakers.split(","))
    )
    audio, generator, step = AudioFeatureConfig(), None, None
    if args.model_dir:
        from lipsync_tf import model_dir

        generator, _, step = model_dir.restore_generator(args.model_dir, args.step)
        audio = model_dir.model_config(args.model_dir).audio
    result = audio_probe.probe(data, audio, generator)
    print(f"validation speakers: {', '.join(result['validation_speakers'])}")
    print(f"{'clip':<34} {'speaker':<22} {'ridge':>6} {'head':>6}")
    for clip_id, row in sorted(result["clips"].items()):
        head = f"{row['head']:6.3f}" if "head" in row else f"{'-':>6}"
        print(f"{clip_id:<34} {row['speaker']:<22} {row['ridge']:6.3f} {head}")
    print(f"ridge (trained on {result['train_clips']} clips of the other speakers): "
          f"r = {result['ridge_mean_r']:.3f}")  # fmt: skip
    if "head_mean_r" in result:
        print(f"mouth head of {args.model_dir} step {step}: r = {result['head_mean_r']:.3f}")
    print("by kind of speaker (mean over clips):")
    for key in ("ridge", "head"):
        means = audio_probe.group_means(result["clips"], key)
        if means:
            cells = ", ".join(f"{g} {r:.3f} ({n} clips)" for g, (r, n) in means.items())
            print(f"  {key}: {cells}")
            result[f"{key}_by_group"] = means
    if args.loso_data_dir:
        clips = audio_probe.load_clips(args.loso_data_dir, audio)
        loso = audio_probe.leave_one_speaker_out(clips)
        result["ridge_leave_one_speaker_out"] = loso
        print(
            f"ridge, leave one speaker out over the {loso['speakers']} speakers of "
            f"{args.loso_data_dir}: r = {loso['mean_r']:.3f}"
        )
    if args.evaluation:
        evaluations = []
        for path in args.evaluation.split(","):
            with open(path) as stream:
                evaluations.append(json.load(stream))
        ridge = {clip_id: row["ridge"] for clip_id, row in result["clips"].items()}
        paired = audio_probe.paired_with_ridge(ridge, evaluations)
        result["paired_with_ridge"] = paired
        title = f"drawn mouth vs ridge, {len(evaluations)} evaluation(s) averaged per clip:"
        _print_paired(result, paired, title, "drawn", "drawn mouth")
    if args.product:
        with open(args.product) as stream:
            quality = json.load(stream)["clips"]
        result["product_paired_with_ridge"] = _product_vs_ridge(
            result, quality, args.product_system
        )
    if args.output:
        with open(args.output, "w") as stream:
            json.dump({"model_dir": args.model_dir, "step": step, **result}, stream, indent=2)


def _product_vs_ridge(result: dict, quality: dict, system: str) -> dict:
    """mouth_quality's per-clip r of `system` paired with the ridge's, clips matched by file stem
    (mouth_quality measures a clip's first --max_seconds, the probe all of it). Prints both."""
    by_stem = {clip_id.rsplit("/", 1)[-1]: clip_id for clip_id in result["clips"]}
    model = {}
    for name, row in quality.items():
        clip_id = by_stem.get(name.rsplit(".", 1)[0])
        if clip_id is not None and system in row:
            model[clip_id] = [row[system]["mouth_r"]]
    ridge = {clip_id: row["ridge"] for clip_id, row in result["clips"].items()}
    paired = audio_probe.paired_scores(ridge, model)
    title = f"what bin/generate writes ({system}) vs ridge, clip by clip:"
    _print_paired(result, paired, title, "bin/generate", "bin/generate")
    return paired


def _print_paired(result: dict, paired: dict, title: str, short: str, long: str) -> None:
    """A model's per-clip r beside the ridge's, its means by kind of speaker, and the mean
    difference with its 95 % interval (`audio_probe.paired_scores`)."""
    print(title)
    width = max(6, len(short))
    print(f"{'clip':<34} {short:>{width}} {'ridge':>6}")
    for clip_id, (model_r, ridge_r) in paired["clips"].items():
        print(f"{clip_id:<34} {model_r:{width}.3f} {ridge_r:6.3f}")
    rows = {
        clip_id: {"speaker": result["clips"][clip_id]["speaker"], "model": model_r}
        for clip_id, (model_r, _) in paired["clips"].items()
    }
    for group, (r, n) in audio_probe.group_means(rows, "model").items():
        print(f"  {long}, {group}: {r:.3f} ({n} clips)")
    low, high = paired["interval95"]
    print(
        f"{short} {paired['model_clip_mean_r']:.3f} - ridge {paired['ridge_clip_mean_r']:.3f} = "
        f"{paired['mean_difference']:+.3f} (standard error {paired['standard_error']:.3f}, "
        f"95 % interval {low:+.3f} to {high:+.3f}, {len(paired['clips'])} clips)"
    )
    speaker_of = {clip_id: row["speaker"] for clip_id, row in result["clips"].items()}
    if len({speaker_of[clip_id] for clip_id in paired["clips"]}) >= 2:
        speakers = audio_probe.by_speaker(paired, speaker_of)
        paired["by_speaker"] = speakers
        low, high = speakers["interval95"]
        print(
            f"  by speaker (each speaker's mean difference first): "
            f"{speakers['mean_difference']:+.3f} (95 % interval {low:+.3f} to {high:+.3f}, "
            f"{speakers['speakers']} speakers)"
        )


if __name__ == "__main__":
    main()
