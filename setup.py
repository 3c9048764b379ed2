"""Installs lipsync_tf and its command-line tools.

Every pin below was installed and tested together (Python 3.11, CPU). See README.md, "Dependency
notes", for what was tried and left out (tensorflow-io, tensorflow-addons).
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="lipsync_tf",
    version="0.1.0",
    description="Speech-driven talking-face video from one still photo (Keras 3 / TensorFlow).",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["lipsync_tf", "lipsync_tf.*"]),
    scripts=sorted(str(path) for path in (HERE / "bin").glob("*") if path.is_file()),
    install_requires=[
        # CPU wheel: 274 MB instead of 572 MB; same TF 2.21 API.
        "tensorflow-cpu==2.21.0",
        "keras==3.15.1",
        "numpy==2.4.6",
        # 6.x because apache-beam (preprocessing) requires protobuf<7.
        "protobuf==6.33.6",
        "absl-py==2.5.1",
        "librosa==0.11.0",
        "soundfile==0.14.0",
        "soxr==1.1.0",
        "av==18.1.0",
        # Face detection. Its model files come from the mediapipe 0.10.21 wheel, fetched once at
        # install time by bin/fetch_models (hash-checked): lipsync_tf/preprocessing/model_files.py.
        "mediapipe==1.2.3",
        # Pulled in by mediapipe; pinned because we call cv2 (resize, warp, blur) directly.
        "opencv-contrib-python==5.1.0.95",
        "pillow==12.3.0",
        # Runs the face-landmark model and the exported .tflite generator.
        "ai-edge-litert==2.3.0",
        # Preprocessing pipeline (DirectRunner here, any runner on a cluster).
        "apache-beam==2.77.0",
        # CRC of the TFRecords Beam writes (WriteToTFRecord fails without a crc package).
        "google-crc32c==1.9.0",
        "tqdm==4.70.1",
        # Student's t for the probe's confidence intervals (librosa needs it too).
        "scipy==1.17.1",
        # tf.summary needs it (tensorflow-cpu does not pull it in); also the TensorBoard UI.
        "tensorboard==2.21.0",
        # Provenance: the signed C2PA manifest in every output mp4 (lipsync_tf/provenance).
        "c2pa-python==0.38.1",
        # Makes the local signing identity and reads users' certificates (also pulled by c2pa).
        "cryptography==50.0.2",
    ],
    extras_require={
        "test": [
            "pytest==9.2.0",
            "ruff==0.17.6",
            # Drives Debian's chromium (/usr/bin/chromium) in the web demo's tests; it never
            # downloads a browser of its own. Those tests also need the demo extra.
            "playwright==1.65.2",
        ],
        # bin/demo, the web page; resolves beside the pins above without moving any of them.
        "demo": [
            "gradio==6.31.0",
            "gradio_client==2.7.2",
        ],
    },
)
