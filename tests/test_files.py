"""The user's files: outputs are published all at once and never replace a file by surprise."""

import os

import av
import numpy as np
import pytest

from lipsync_tf.errors import InputError
from lipsync_tf.files import check_output, temporary_name
from lipsync_tf.inference.media import Mp4Writer


def _video(path, level: int, overwrite: bool = False) -> Mp4Writer:
    writer = Mp4Writer(path, 64, 48, audio_rate=None, overwrite=overwrite)
    for _ in range(3):
        writer.write_frame(np.full((48, 64, 3), level, np.uint8))
    return writer


def test_a_file_that_appears_while_writing_is_not_replaced(tmp_path):
    output = tmp_path / "out.mp4"
    first, second = _video(output, 10), _video(output, 200)  # both started before either ended
    first.close()
    written = output.read_bytes()
    with pytest.raises(InputError, match="appeared while this run was writing it"):
        second.close()
    assert output.read_bytes() == written
    assert [path.name for path in tmp_path.iterdir()] == ["out.mp4"]  # no temporary file


def test_with_overwrite_the_last_writer_wins(tmp_path):
    output = tmp_path / "out.mp4"
    first, second = _video(output, 10), _video(output, 200, overwrite=True)
    first.close()
    second.close()
    with av.open(str(output)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert abs(frame.mean() - 200) < 3  # the second video
    assert [path.name for path in tmp_path.iterdir()] == ["out.mp4"]


def test_the_temporary_name_of_the_longest_legal_name_is_legal(tmp_path):
    output = tmp_path / ("é" * 125 + ".mp4")  # 254 bytes
    temporary = temporary_name(check_output(output))
    assert len(os.fsencode(temporary.name)) <= 255
    assert temporary.parent == tmp_path and temporary.name.startswith(".é")
    assert temporary.suffix == ".mp4"


def test_an_output_that_is_an_input_is_refused_through_any_link(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"my photo")
    (tmp_path / "sub").mkdir()
    link = tmp_path / "sub" / "link.mp4"
    link.symlink_to(photo)
    for output in (photo, tmp_path / "sub" / ".." / "photo.jpg", link):
        with pytest.raises(InputError, match="is the input"):
            check_output(output, inputs=[photo], overwrite=True)
    assert photo.read_bytes() == b"my photo"
