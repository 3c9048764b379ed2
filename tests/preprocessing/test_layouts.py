"""find_clips: the three folder layouts, auto detection, speaker maps and clear errors."""

import json
from pathlib import Path

import pytest

from lipsync_tf.errors import InputError
from lipsync_tf.preprocessing.layouts import detect_layout, find_clips, load_speaker_map

SHARED_SPEAKERS = Path(__file__).resolve().parents[2] / "configs/data/shared_clips_speakers.json"


def _touch(root, *relative):
    for name in relative:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_voxceleb2_speaker_is_the_id_folder(tmp_path):
    _touch(tmp_path, "id00017/abc/00001.mp4", "id00017/abc/00002.mp4", "id00451/xyz/00001.mp4")
    _touch(tmp_path, "id00017/abc/notes.txt")
    clips = find_clips(tmp_path)
    assert [c.clip_id for c in clips] == [
        "id00017/abc/00001",
        "id00017/abc/00002",
        "id00451/xyz/00001",
    ]
    assert [c.speaker_id for c in clips] == ["id00017", "id00017", "id00451"]
    assert all(c.audio_path is None for c in clips)
    assert detect_layout(tmp_path) == "voxceleb2"


def test_grid_speaker_is_the_s_folder_and_a_sibling_wav_is_used(tmp_path):
    _touch(tmp_path, "s1/bbaf2n.mpg", "s1/bbaf2n.wav", "s12/lrwp9a.mpg")
    clips = find_clips(tmp_path, layout="auto")
    assert [(c.clip_id, c.speaker_id) for c in clips] == [
        ("s1/bbaf2n", "s1"),
        ("s12/lrwp9a", "s12"),
    ]
    assert clips[0].audio_path == str(tmp_path / "s1/bbaf2n.wav")
    assert clips[1].audio_path is None


def test_flat_speaker_is_the_stem_unless_mapped(tmp_path):
    _touch(tmp_path, "a.mp4", "b.MOV", "c.webm", "c.wav", "d.avi", "readme.md", "e.wav")
    speaker_file = tmp_path / "speakers.json"
    speaker_file.write_text(json.dumps({"_comment": "x", "a": "alice", "d": "alice"}))
    clips = find_clips(tmp_path, layout="flat", speaker_map=speaker_file)
    assert [c.clip_id for c in clips] == ["a", "b", "c", "d"]
    assert [c.speaker_id for c in clips] == ["alice", "b", "c", "alice"]
    assert clips[2].audio_path == str(tmp_path / "c.wav")
    assert detect_layout(tmp_path) == "flat"


def test_tree_finds_videos_in_subfolders_and_maps_clip_ids_to_speakers(tmp_path):
    (tmp_path / "video").mkdir()
    (tmp_path / "additional").mkdir()
    _touch(tmp_path / "video", "00001.mp4", "00002.mp4", "notes.txt")
    _touch(tmp_path / "additional", "00001.mp4")
    speakers = {"video/00001": "anchor_a", "additional/00001": "anchor_b"}
    clips = find_clips(tmp_path, layout="tree", speaker_map=speakers)
    assert [c.clip_id for c in clips] == ["additional/00001", "video/00001", "video/00002"]
    assert [c.speaker_id for c in clips] == ["anchor_b", "anchor_a", "video/00002"]


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        find_clips(tmp_path / "nope")
    with pytest.raises(InputError, match="no flat-layout videos"):
        find_clips(tmp_path)
    with pytest.raises(InputError, match="unknown layout"):
        find_clips(tmp_path, layout="kinetics")


def test_bad_speaker_map_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_speaker_map(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_speaker_map(bad)


def test_shared_clips_speaker_map_names_every_clip(shared_data):
    clips = find_clips(shared_data / "clips", "flat", speaker_map=SHARED_SPEAKERS)
    speakers = {c.clip_id: c.speaker_id for c in clips}
    mapping = load_speaker_map(SHARED_SPEAKERS)
    assert set(mapping) == set(speakers)  # every clip is mapped and every key is a clip
    assert speakers["grid_spkC_pwij3p"] == speakers["grid_spkC_swwp2s"]
    assert speakers["sadtalker_WDA_AlexandriaOcasioCortez_000"] == speakers["videoretalking_face3"]
    assert speakers["vox2_pcavs_00002"] == speakers["vox2_pcavs_517600055"]
    assert speakers["vox2_pcavs_741400104"] == speakers["vox2_pcavs_741400163"]
    assert len(set(speakers.values())) == 25
