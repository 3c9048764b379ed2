"""The two marks of one output file, as `Mp4Writer` hooks: watermark each frame, sign the file.

`generate_video`, `redub_video` and the web demo take one `ProvenanceOptions` (its fields are
the flags `--no_provenance`, `--signing_cert`, `--signing_key`) and make an `OutputMarks` per
output: `mark_luma` watermarks every frame before it is encoded, `seal` embeds the signed C2PA
manifest into the finished temporary file before `Mp4Writer` publishes it under its name, so
writing stays atomic and a failed signature leaves no output.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lipsync_tf.config import option
from lipsync_tf.provenance import watermark

if TYPE_CHECKING:
    from lipsync_tf.provenance.identity import SigningIdentity

CERT_ENV = "LIPSYNC_TF_SIGNING_CERT"
KEY_ENV = "LIPSYNC_TF_SIGNING_KEY"


@dataclasses.dataclass(frozen=True)
class ProvenanceOptions:
    """How outputs are marked; each field is a flag of bin/generate and bin/redub (bin/demo has
    the signing ones: its page always marks). Without a certificate and key (flags or
    environment), the local identity signs (`identity.py`)."""

    no_provenance: bool = option(
        False,
        "For research use only: write neither the signed C2PA manifest nor the invisible "
        "watermark that mark the output as AI-generated (docs/provenance.md).",
    )
    signing_cert: str | None = option(
        None,
        "PEM certificate chain (signer first) to sign the C2PA manifest with (default: "
        f"${CERT_ENV}, else a local identity made once in the cache, untrusted by others).",
    )
    signing_key: str | None = option(
        None, f"PEM private key of --signing_cert (default: ${KEY_ENV})."
    )

    @property
    def enabled(self) -> bool:
        """Whether outputs carry both marks (always, unless `no_provenance`)."""
        return not self.no_provenance

    def identity(self) -> SigningIdentity:
        """The identity that signs (made or checked now, so a bad certificate fails early)."""
        # Imported here: c2pa and cryptography load only when something is signed.
        from lipsync_tf.provenance.identity import resolve_identity

        return resolve_identity(self.signing_cert, self.signing_key)


MARKED = ProvenanceOptions()  # the default everywhere: both marks, signed by the local identity
UNMARKED = ProvenanceOptions(no_provenance=True)  # research use only


class OutputMarks:
    """The watermark and the manifest of one output video.

    Made in two steps, so that a certificate C2PA refuses fails before the model loads: the
    signing identity first (`output_marks`), then the model that makes the video (`set_model`,
    which hashes its files and picks the watermark's model mark). `source`: for a redub, the
    video whose frames were edited (the manifest's parent ingredient). `sign_seconds` is the
    time `seal` took (inside `Mp4Writer.close`).
    """

    def __init__(self, identity: SigningIdentity, output: str | Path, source=None):
        self.identity = identity
        self.title = Path(output).name
        self.source = Path(source) if source is not None else None
        self.model = None
        self.mark_id: int | None = None
        self.mark_luma: watermark.FrameMarker | None = None
        self.sign_seconds = 0.0

    def set_model(self, runner) -> None:
        """Names the model (`c2pa_manifest.model_info`) and makes the frame marker for it."""
        from lipsync_tf.provenance import c2pa_manifest

        self.model = c2pa_manifest.model_info(runner)
        self.mark_id = watermark.model_mark_id(self.model.sha256)
        self.mark_luma = watermark.FrameMarker(self.mark_id)

    def seal(self, path: Path) -> None:
        """Signs the finished mp4 at `path` in place (`Mp4Writer`'s `before_publish` hook)."""
        from lipsync_tf.provenance import c2pa_manifest

        begin = time.perf_counter()
        manifest = c2pa_manifest.build_manifest(
            self.title,
            self.model,
            {"scheme": watermark.SCHEME, "mark_id": self.mark_id},
            edited=self.source is not None,
        )
        c2pa_manifest.sign_mp4(path, manifest, self.identity, self.source)
        self.sign_seconds += time.perf_counter() - begin

    def writer_hooks(self) -> dict:
        """`Mp4Writer`'s keyword arguments that apply both marks."""
        if self.mark_luma is None:
            raise RuntimeError("OutputMarks.set_model was not called")
        return {"mark_luma": self.mark_luma, "before_publish": self.seal}


def output_marks(
    options: ProvenanceOptions | None, output: str | Path, source=None
) -> OutputMarks | None:
    """`OutputMarks` for `output` with its signing identity resolved (a bad certificate fails
    here), or None when provenance is off."""
    if options is None or not options.enabled:
        return None
    return OutputMarks(options.identity(), output, source)
