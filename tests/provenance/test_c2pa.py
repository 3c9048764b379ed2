"""The signed C2PA manifest on real outputs: contents, tampering, signers, atomic writing."""

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipsync_tf.console import Interrupted
from lipsync_tf.inference.generate import GenerateOptions, InferenceOptions, generate_video
from lipsync_tf.inference.media import Mp4Writer
from lipsync_tf.inference.redub import redub_video
from lipsync_tf.provenance import identity, watermark
from lipsync_tf.provenance.c2pa_manifest import read_manifest, sign_mp4
from lipsync_tf.provenance.marks import ProvenanceOptions
from tests.provenance.certificates import write_user_certificate
from tests.provenance.conftest import PHOTO, SHIPPED, SHIPPED_VERSION

REPO = Path(__file__).resolve().parents[2]
SPEECH = "audio/makeittalk_M6_04_16k.wav"  # 4.9 s


def _independent_sha256(folder: Path) -> str:
    """The model hash written out again here: relative path, NUL, bytes; files sorted by path,
    the model card left out."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "MODEL_CARD.md"):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def test_generated_video_carries_a_valid_manifest_saying_what_made_it(made_video):
    report = read_manifest(made_video)
    assert report.state == "valid"
    assert report.failures == ["signingCredential.untrusted"]  # the local identity: untrusted
    assert report.signer == identity.LOCAL_SIGNER
    assert report.actions == ["c2pa.created"]
    assert report.digital_source_type == "trainedAlgorithmicMedia"
    assert report.generator == "lipsync_tf 0.1.0"
    assert report.model == {
        "name": "lipsync",
        "version": SHIPPED_VERSION,
        "backend": "savedmodel",
        "sha256": _independent_sha256(SHIPPED / SHIPPED_VERSION),
    }
    assert report.watermark["mark_id"] == watermark.model_mark_id(report.model["sha256"])


def _mdat_offset(data: bytes) -> int:
    """Offset of the mdat box's payload, walking the top-level boxes."""
    offset = 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        if data[offset + 4 : offset + 8] == b"mdat":
            return offset + 8
        offset += size
    raise AssertionError("no mdat box")


def test_one_flipped_byte_in_the_video_data_invalidates_the_manifest(made_video, tmp_path):
    data = bytearray(made_video.read_bytes())
    data[_mdat_offset(data) + 1000] ^= 0x01
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(data)
    report = read_manifest(tampered)
    assert report.state == "invalid"
    assert "assertion.bmffHash.mismatch" in report.failures


def test_a_users_certificate_signs_when_given_by_flag_or_environment(
    tiny_export, shared_data, tmp_path, monkeypatch
):
    chain, key = write_user_certificate(tmp_path / "mine", "Example Newsroom signer")
    options = ProvenanceOptions(signing_cert=str(chain), signing_key=str(key))
    output = generate_video(
        shared_data / PHOTO, shared_data / SPEECH, tmp_path / "signed.mp4",
        GenerateOptions(model=str(tiny_export[1]), progress=False), provenance=options,
    ).output  # fmt: skip
    report = read_manifest(output)
    assert report.state == "valid" and report.signer == "Example Newsroom signer"
    assert report.issuer == "Example Newsroom"
    # The same through the environment variables, with the CLI's flags left unset.
    monkeypatch.setenv(identity.CERT_ENV, str(chain))
    monkeypatch.setenv(identity.KEY_ENV, str(key))
    output = tmp_path / "env.mp4"
    subprocess.run(
        [sys.executable, str(REPO / "bin" / "generate"), f"--image={shared_data / PHOTO}",
         f"--audio={shared_data / SPEECH}", f"--output={output}", f"--model={tiny_export[1]}",
         "--noprogress"],
        check=True, capture_output=True,
    )  # fmt: skip
    assert read_manifest(output).signer == "Example Newsroom signer"


def test_a_self_signed_certificate_fails_before_any_work_and_writes_nothing(
    tiny_export, shared_data, tmp_path
):
    chain, key = write_user_certificate(tmp_path / "self", "Me", self_signed=True)
    output = tmp_path / "out.mp4"
    result = subprocess.run(
        [sys.executable, str(REPO / "bin" / "generate"), f"--image={shared_data / PHOTO}",
         f"--audio={shared_data / SPEECH}", f"--output={output}", f"--model={tiny_export[1]}",
         f"--signing_cert={chain}", f"--signing_key={key}", "--noprogress"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("bin/generate: C2PA does not sign with certificate")
    assert "not self-signed" in message and "Traceback" not in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["self"]


def test_a_key_without_its_certificate_is_a_clear_error(tmp_path):
    _, key = write_user_certificate(tmp_path, "Me")
    with pytest.raises(identity.SigningError, match="without its certificate; give both"):
        ProvenanceOptions(signing_key=str(key)).identity()
    other_chain, _ = write_user_certificate(tmp_path / "other", "Other")
    with pytest.raises(identity.SigningError, match="does not belong to the first certificate"):
        ProvenanceOptions(signing_cert=str(other_chain), signing_key=str(key)).identity()


def test_the_local_identity_is_made_once_with_a_private_key_only_its_owner_reads(tmp_path):
    folder = tmp_path / "signing"
    first = identity.local_identity(folder)
    assert sorted(path.name for path in folder.iterdir()) == [
        "README.txt",
        identity.CHAIN_NAME,
        identity.KEY_NAME,
    ]  # fmt: skip (no CA key: nothing else can be issued under the local CA)
    assert os.stat(folder / identity.KEY_NAME).st_mode & 0o777 == 0o600
    assert os.stat(folder).st_mode & 0o777 == 0o700
    second = identity.local_identity(folder)
    assert second == first and first.local and first.alg == "es256"
    assert "untrusted by others until you use your own certificate" in first.describe()


def test_a_failed_signature_leaves_no_output_and_no_temporary_file(tmp_path):
    good = identity.local_identity(tmp_path / "signing")
    _, other_key = write_user_certificate(tmp_path / "other", "Other")
    wrong_key = identity.load_identity(tmp_path / "other" / "chain.pem", other_key).key_pem
    broken = identity.SigningIdentity(good.chain_pem, wrong_key, "es384", "broken", False)
    output = tmp_path / "out" / "video.mp4"
    output.parent.mkdir()

    def sign(path):
        sign_mp4(path, {"title": "video.mp4", "assertions": []}, broken)

    with pytest.raises(identity.SigningError, match="C2PA signing with"):
        with Mp4Writer(output, 64, 64, audio_rate=None, before_publish=sign) as writer:
            for _ in range(5):
                writer.write_frame(np.full((64, 64, 3), 128, np.uint8))
    assert list(output.parent.iterdir()) == []


def test_an_interrupt_while_signing_leaves_no_output_and_no_temporary_file(tmp_path):
    output = tmp_path / "out" / "video.mp4"
    output.parent.mkdir()

    def interrupted(path):
        raise Interrupted(signal.SIGTERM)  # what console's handler raises mid-signature

    with pytest.raises(Interrupted):
        with Mp4Writer(output, 64, 64, audio_rate=None, before_publish=interrupted) as writer:
            writer.write_frame(np.full((64, 64, 3), 128, np.uint8))
    assert list(output.parent.iterdir()) == []


def test_redub_manifest_is_an_edit_of_its_source_video(tiny_export, shared_data, tmp_path):
    source = shared_data / "clips" / "vox2_pcavs_00086.mp4"
    output = redub_video(
        source, shared_data / SPEECH, tmp_path / "redubbed.mp4",
        InferenceOptions(model=str(tiny_export[1]), progress=False),
    ).output  # fmt: skip
    report = read_manifest(output)
    assert report.state == "valid"
    assert report.actions == ["c2pa.opened", "c2pa.edited"]
    assert report.digital_source_type == "compositeWithTrainedAlgorithmicMedia"
    assert watermark.detect_file(output).found


def test_no_provenance_writes_neither_mark(tiny_export, shared_data, tmp_path):
    output = tmp_path / "research.mp4"
    subprocess.run(
        [sys.executable, str(REPO / "bin" / "generate"), f"--image={shared_data / PHOTO}",
         f"--audio={shared_data / SPEECH}", f"--output={output}", f"--model={tiny_export[1]}",
         "--no_provenance", "--noprogress"],
        check=True, capture_output=True,
    )  # fmt: skip
    assert read_manifest(output).state == "absent"
    assert not watermark.detect_file(output).found
