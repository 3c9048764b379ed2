"""Every command-line flag, defined once, one function per executable in bin/.

Each `bin/` script calls the one `define_*_flags()` it needs before `app.run(main)`, so `--help`
lists exactly that command's flags and `--flagfile` works everywhere.
"""

from absl import flags

FLAGS = flags.FLAGS


def define_train_flags() -> None:
    """bin/train: where the data and the model directory are, and every training knob.

    Defaults come from `DataConfig` / `TrainConfig`, so a flagfile only lists what it changes.
    """
    from lipsync_tf.config import DataConfig, TrainConfig

    data, train = DataConfig(), TrainConfig()
    flags.DEFINE_string("model_dir", None, "Directory for config.json, checkpoints and logs.")
    flags.DEFINE_string(
        "model_config", "configs/models/paper.json", "JSON file with the ModelConfig (sizes)."
    )
    flags.DEFINE_integer(
        "num_cpu_replicas", 0, "Split the CPU into this many logical devices (MirroredStrategy)."
    )
    flags.DEFINE_float(
        "peer_timeout",
        600.0,
        "With TF_CONFIG: seconds to wait for every worker to join before stopping with an error.",
    )
    # Data.
    flags.DEFINE_string(
        "data_dir", None, "Directory of train.tfrecord-* shards (bin/prepare_data)."
    )
    flags.DEFINE_integer("window_frames", data.window_frames, "Frames per training example (T).")
    flags.DEFINE_integer("batch_size", data.batch_size, "Global batch size (all replicas).")
    flags.DEFINE_enum(
        "still", data.still, ["first", "random"], "Which frame is the identity still."
    )
    flags.DEFINE_list("validation_speakers", [], "Speaker ids held out for validation.")
    flags.DEFINE_float(
        "validation_fraction",
        data.validation_fraction,
        "Without --validation_speakers: hold out about this fraction of speakers (stable hash).",
    )
    flags.DEFINE_integer(
        "offsync_min_frames", data.offsync_min_frames, "Min shift of out-of-sync audio negatives."
    )
    flags.DEFINE_boolean(
        "deterministic", data.deterministic, "Same batches in the same order on every run."
    )
    flags.DEFINE_boolean(
        "flip", data.flip, "Mirror half the training examples (still and frames together)."
    )
    flags.DEFINE_float(
        "jitter",
        data.jitter,
        "Zoom and shift training examples (still and frames together) by up to this fraction.",
    )
    flags.DEFINE_float(
        "jitter_max_scale",
        data.jitter_max_scale,
        "With --jitter: draw the crop window's size factor from [1/(1+jitter), this] instead "
        "(bin/evaluate --crop_scale units), for faces framed more loosely. 0: off.",
    )
    flags.DEFINE_float(
        "color_jitter",
        data.color_jitter,
        "Change training examples' brightness (by up to this, pixels in [-1, 1]), contrast and "
        "saturation (by factors 1 +- this), still and frames together. 0: off.",
    )
    flags.DEFINE_float(
        "audio_gain_db",
        data.audio_gain_db,
        "Scale training examples' audio by a random gain within +- this many dB (clipped), so "
        "quiet and loud recordings move the mouth alike. 0: off.",
    )
    flags.DEFINE_float(
        "audio_tilt",
        data.audio_tilt,
        "Filter training examples' audio with y[n] = x[n] - c x[n-1] (scaled), c drawn within "
        "+- this (below 1), so microphones that lift the highs or the lows move the mouth "
        "alike. 0: off.",
    )
    flags.DEFINE_float(
        "speaker_balance",
        data.speaker_balance,
        "0: every clip equally likely; 1: every speaker equally likely; between: a speaker's "
        "share goes as (its clips) ** (1 - this).",
    )
    # Optimisation and losses.
    flags.DEFINE_integer("train_steps", train.train_steps, "Total generator steps to train to.")
    flags.DEFINE_float("g_learning_rate", train.g_learning_rate, "Generator Adam learning rate.")
    flags.DEFINE_float(
        "d_learning_rate", train.d_learning_rate, "Discriminators' Adam learning rate."
    )
    flags.DEFINE_float("beta_1", train.beta_1, "Adam beta_1 (both optimizers).")
    flags.DEFINE_float("frame_adv_weight", train.frame_adv_weight, "Frame-D adversarial weight.")
    flags.DEFINE_float("seq_adv_weight", train.seq_adv_weight, "Sequence-D adversarial weight.")
    flags.DEFINE_float("l1_weight", train.l1_weight, "Weight of the L1 reconstruction loss.")
    flags.DEFINE_float(
        "mouth_weight", train.mouth_weight, "Extra L1 weight on the lower face (mouth) region."
    )
    flags.DEFINE_float(
        "motion_weight",
        train.motion_weight,
        "Weight of the L1 between generated and real frame-to-frame change on the lower face.",
    )
    flags.DEFINE_float(
        "audio_mouth_weight",
        train.audio_mouth_weight,
        "Weight of the auxiliary loss that predicts the real mouth's brightness changes from "
        "the audio codes (0: off, as in the paper).",
    )
    flags.DEFINE_float(
        "mouth_head_weight",
        train.mouth_head_weight,
        "Weight of the mouth head's squared error against the real lip shapes (model config "
        "mouth_head: true).",
    )
    flags.DEFINE_float(
        "teacher_forcing",
        train.teacher_forcing,
        "Fraction of examples whose decoder draws the real lip shape instead of the head's.",
    )
    flags.DEFINE_integer(
        "pretrain_mouth_steps",
        train.pretrain_mouth_steps,
        "Before the GAN starts, train the audio encoder and mouth head alone for this many "
        "audio-only batches.",
    )
    flags.DEFINE_integer(
        "pretrain_batch_size", train.pretrain_batch_size, "Windows per pretraining batch."
    )
    flags.DEFINE_string("lip_reader", train.lip_reader, "Frozen lip reader (bin/train_expert).")
    flags.DEFINE_float(
        "lip_reader_weight",
        train.lip_reader_weight,
        "Weight of the L1 between the lips the lip reader sees in generated and real frames.",
    )
    flags.DEFINE_string("sync_expert", train.sync_expert, "Frozen sync expert (bin/train_expert).")
    flags.DEFINE_float(
        "sync_weight", train.sync_weight, "Weight of the sync expert's out-of-sync loss."
    )
    flags.DEFINE_float(
        "mask_weight",
        train.mask_weight,
        "Weight of the blend mask's mean (model config blend_mask: true).",
    )
    flags.DEFINE_float(
        "flow_lips_weight",
        train.flow_lips_weight,
        "Weight of the L1 between the still's warp at the real lip points and the displacement "
        "that moves the still's lips there (model config warp_still: true).",
    )
    flags.DEFINE_string(
        "init_generator",
        train.init_generator,
        "A generator-N.weights.h5 (same model config) to start a new run from; ignored when "
        "--model_dir already has checkpoints.",
    )
    flags.DEFINE_integer(
        "frame_samples", train.frame_samples, "Frames per clip shown to the frame D, S(x)."
    )
    flags.DEFINE_integer("checkpoint_every", train.checkpoint_every, "Steps between checkpoints.")
    flags.DEFINE_integer("keep_checkpoints", train.keep_checkpoints, "Checkpoints to keep.")
    flags.DEFINE_integer("summary_every", train.summary_every, "Steps between TensorBoard scalars.")
    flags.DEFINE_integer(
        "validation_every", train.validation_every, "Steps between validation passes and samples."
    )
    flags.DEFINE_integer(
        "validation_batches", train.validation_batches, "Batches per validation pass."
    )
    flags.DEFINE_integer("seed", train.seed, "Seed of every random choice (data and training).")
    flags.mark_flags_as_required(["model_dir", "data_dir"])


def define_train_expert_flags() -> None:
    """bin/train_expert: a frozen lip reader or sync expert for the generator to learn from."""
    from lipsync_tf.config import DataConfig
    from lipsync_tf.training.experts import EXPERT_KINDS, ExpertTrainConfig

    data, expert = DataConfig(), ExpertTrainConfig()
    flags.DEFINE_enum("kind", expert.kind, EXPERT_KINDS, "Which expert to train.")
    flags.DEFINE_string("output", None, "The .keras file to write (a .json report goes beside).")
    flags.DEFINE_string(
        "data_dir", None, "Shards of bin/prepare_data; several directories comma-separated."
    )
    flags.DEFINE_list("validation_speakers", [], "Held-out speakers the report measures on.")
    flags.DEFINE_integer("steps", expert.steps, "Training steps.")
    flags.DEFINE_integer("batch_size", expert.batch_size, "Clips (lip reader) or pairs per step.")
    flags.DEFINE_float("learning_rate", expert.learning_rate, "Adam learning rate.")
    flags.DEFINE_float("jitter", 0.05, "Zoom/shift augmentation, as bin/train's --jitter.")
    flags.DEFINE_float("speaker_balance", 0.5, "Speaker balance, as bin/train's.")
    flags.DEFINE_boolean("flip", True, "Mirror half the examples.")
    flags.DEFINE_integer(
        "offsync_min_frames", data.offsync_min_frames, "Sync expert: min shift of negatives."
    )
    flags.DEFINE_integer("seed", expert.seed, "Seed of every random choice.")
    flags.mark_flags_as_required(["output", "data_dir"])


def define_export_flags() -> None:
    """bin/export: which trained model_dir to export, where, and whether to add TFLite files."""
    flags.DEFINE_string("model_dir", None, "Trained model directory (config.json + checkpoints/).")
    flags.DEFINE_string(
        "export_dir", None, "exported_models/NAME; the SavedModel goes to its next free <N>/."
    )
    flags.DEFINE_integer("version", None, "Version folder number (default: next free one).")
    flags.DEFINE_integer(
        "step", None, "Export this training step's checkpoint (default: the latest one)."
    )
    flags.DEFINE_boolean(
        "tflite", False, "Also write generator_chunk[_dynamic_range].tflite into export_dir."
    )
    flags.DEFINE_string(
        "calibration_data",
        None,
        "With --tflite: a folder of real talking-face clips (any bin/prepare_data layout) to "
        "calibrate the full-integer generator_chunk_int8.tflite on; without it no int8 file.",
    )
    flags.DEFINE_integer(
        "calibration_clips", 8, "Clips of --calibration_data to calibrate on (spread evenly)."
    )
    flags.DEFINE_float(
        "mouth_gain",
        None,
        "For a model with a mouth head: export it drawing this many times the mouth shape the "
        "head hears (default: the model config's, 1 after training). See the README's training "
        "section for how the shipped model's gain was chosen.",
    )
    flags.DEFINE_enum(
        "conv_dtype",
        "float32",
        ["float32", "bfloat16"],
        "What the SavedModel's convolutions multiply in. bfloat16 is about twice as fast "
        "on CPUs with AVX512-BF16 or AMX (and slow elsewhere); frames move by a few uint8 levels. "
        "TFLite files stay float32.",
    )
    flags.mark_flags_as_required(["model_dir", "export_dir"])


def _define_inference_flags(seed_help: str) -> None:
    flags.DEFINE_string("audio", None, "Speech: wav/flac/mp3/m4a or a video's audio track.")
    flags.DEFINE_string("output", None, "The mp4 to write (H.264 + AAC, 25 fps).")
    flags.DEFINE_string(
        "model",
        "exported_models/lipsync",
        "exported_models/NAME (highest version) or exported_models/NAME/N.",
    )
    flags.DEFINE_enum(
        "backend",
        "savedmodel",
        ["savedmodel", "tflite", "tflite_dynamic_range", "tflite_int8"],
        "Run the SavedModel, or the (quantised) TFLite file beside it.",
    )
    flags.DEFINE_integer("seed", 0, seed_help)
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")
    flags.DEFINE_boolean(
        "normalize_audio",
        True,
        "Bring the speech to the level the model was trained at (-16 dBFS) before the model "
        "hears it; the video keeps the audio as recorded. --nonormalize_audio: as recorded.",
    )


def define_generate_flags() -> None:
    """bin/generate: photo + speech -> talking-face mp4."""
    from lipsync_tf.inference.media import MAX_OUTPUT_PIXELS

    flags.DEFINE_string("image", None, "Photo with a face: jpg/png/webp/bmp, any size.")
    _define_inference_flags(
        "Noise seed: the same seed gives the same frames (x264 may encode them a level apart)."
    )
    flags.DEFINE_integer(
        "face_index", None, "Which face to use when there are several (0 = largest)."
    )
    flags.DEFINE_boolean(
        "paste_back", True, "Blend the face back into the full photo (else output the crop)."
    )
    flags.DEFINE_integer(
        "max_output_pixels",
        MAX_OUTPUT_PIXELS,
        "Scale a larger photo down to this many pixels (width x height), keeping its shape, "
        "before everything else; the video has that size. The default, the area of 1080p, plays "
        "in every player and encodes about 4x faster than a 12-megapixel photo at full size. 0: "
        "the photo's own size.",
        lower_bound=0,
    )
    flags.mark_flags_as_required(["image", "audio", "output"])


def define_demo_flags() -> None:
    """bin/demo: the web page (Gradio) that runs bin/generate for visitors."""
    flags.DEFINE_string(
        "model",
        "exported_models/lipsync",
        "exported_models/NAME (highest version) or exported_models/NAME/N.",
    )
    flags.DEFINE_string(
        "host", "127.0.0.1", "Address to listen on (0.0.0.0 opens the page to the network)."
    )
    flags.DEFINE_integer("port", 7860, "Port to listen on.")
    flags.DEFINE_integer(
        "queue_size", 8, "Requests that may wait while one generates; more are refused."
    )
    flags.DEFINE_integer(
        "max_image_pixels", 16_000_000, "Refuse photos with more pixels (width x height)."
    )
    flags.DEFINE_float("max_audio_seconds", 600.0, "Refuse longer speech (default 10 minutes).")
    flags.DEFINE_integer("max_upload_mb", 200, "Refuse uploaded files larger than this (MB).")


def define_redub_flags() -> None:
    """bin/redub: a video of a speaker + new speech -> the speaker saying the new speech."""
    flags.DEFINE_string("video", None, "Video of one speaker (any container PyAV reads).")
    _define_inference_flags(
        "Noise seed: the same seed gives the same frames (x264 may encode them a level apart)."
    )
    flags.mark_flags_as_required(["video", "audio", "output"])


def define_evaluate_flags() -> None:
    """bin/evaluate: an exported model vs the static-still and real-clip baselines on real clips."""
    from lipsync_tf.preprocessing.layouts import LAYOUTS

    flags.DEFINE_string(
        "model", None, "exported_models/NAME (highest version) or exported_models/NAME/N."
    )
    flags.DEFINE_string("data", None, "Folder of real talking-face clips (prepare_data layouts).")
    flags.DEFINE_enum("layout", "auto", LAYOUTS, "Folder layout, as for bin/prepare_data.")
    flags.DEFINE_integer("max_clips", None, "Evaluate at most this many clips (in listing order).")
    flags.DEFINE_string("output", "metrics.json", "JSON report: per-clip and averaged metrics.")
    flags.DEFINE_integer("seed", 0, "Model noise seed: the same seed gives the same numbers.")
    flags.DEFINE_float("max_seconds", 20.0, "Evaluate the first N seconds of each clip (0: all).")
    flags.DEFINE_boolean("progress", True, "Show a progress bar over clips.")
    flags.DEFINE_float(
        "crop_scale",
        1.0,
        "Frame every clip as another face-cropping tool might: the crop window times this "
        "(above 1 looser, the face smaller; 0.5-1.5). 1: the crop the model was trained on.",
    )
    flags.DEFINE_list(
        "crop_offset",
        ["0", "0"],
        "x,y: move the crop window's centre by these fractions of its width and height "
        "(right and down positive; each within 0.25).",
    )
    flags.DEFINE_float(
        "audio_gain_db",
        0.0,
        "Scale every clip's audio by this many dB (clipped), as a quieter (negative) or louder "
        "recording of the same speech. 0: as recorded.",
    )
    flags.DEFINE_boolean(
        "normalize_audio",
        False,
        "Then bring each clip's speech to the model's level, as bin/generate and bin/redub do. "
        "Off: the audio reaches the model as given, as through the serving signature.",
    )
    flags.mark_flags_as_required(["model", "data"])


def define_prepare_data_flags() -> None:
    """bin/prepare_data: raw talking-face videos -> sharded TFRecords + manifest.json (Beam)."""
    from lipsync_tf.preprocessing.clips import IMAGE_FORMATS, ClipOptions
    from lipsync_tf.preprocessing.layouts import LAYOUTS

    clip = ClipOptions()
    flags.DEFINE_string("input_dir", None, "Folder of videos (see --layout).")
    flags.DEFINE_string("output_dir", None, "Where train.tfrecord-* shards and manifest.json go.")
    flags.DEFINE_enum(
        "layout", "auto", LAYOUTS, "voxceleb2 (idX/video/clip.mp4), grid (sN/*.mpg) or flat."
    )
    flags.DEFINE_string(
        "speaker_map", None, "Flat layout: JSON file-stem -> speaker id (default: the stem)."
    )
    flags.DEFINE_integer("num_shards", 4, "Number of output TFRecord shards.")
    flags.DEFINE_string("runner", "DirectRunner", "Apache Beam runner.")
    flags.DEFINE_integer("direct_num_workers", 2, "DirectRunner: worker processes.")
    flags.DEFINE_enum(
        "direct_running_mode",
        "multi_processing",
        ["in_memory", "multi_threading", "multi_processing"],
        "DirectRunner: how workers run.",
    )
    flags.DEFINE_list("beam_args", [], "Extra Beam pipeline options, e.g. --beam_args=--foo=1.")
    flags.DEFINE_float("fps", clip.fps, "Output frame rate; other rates are resampled.")
    flags.DEFINE_integer("max_clips", None, "Process at most this many clips (in listing order).")
    flags.DEFINE_integer(
        "detect_every", clip.detect_every, "Run face detection on every k-th frame only."
    )
    flags.DEFINE_enum("image_format", clip.image_format, IMAGE_FORMATS, "Frame encoding.")
    flags.DEFINE_integer("jpeg_quality", clip.jpeg_quality, "JPEG quality (1-100).")
    flags.DEFINE_float("min_seconds", clip.min_seconds, "Skip clips shorter than this.")
    flags.DEFINE_float(
        "max_av_mismatch", clip.max_av_mismatch, "Skip clips whose audio/video lengths differ more."
    )
    flags.DEFINE_boolean("overwrite", False, "Redo the work even if manifest.json is up to date.")
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")
    flags.mark_flags_as_required(["input_dir", "output_dir"])
