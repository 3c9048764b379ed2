"""`bin/verify FILE`: is this video marked as made by lipsync_tf (or as AI-generated at all)?

Two independent answers: the C2PA manifest (valid / invalid / absent; who signed it, the digital
source type, the model) and the watermark in the frames (found or not, with its score). The
watermark answers alone when the file was re-encoded or its metadata stripped. The verdict is
"marked" when a valid manifest says the content is AI-made or the watermark is found.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av

from lipsync_tf.errors import LipsyncError
from lipsync_tf.provenance import watermark
from lipsync_tf.provenance.c2pa_manifest import SYNTHETIC_TYPES, ManifestReport, read_manifest


class UnreadableFileError(LipsyncError):
    """The file is neither a video PyAV decodes nor an asset with a readable manifest."""


@dataclasses.dataclass
class VerifyReport:
    """Both answers for one file; `to_dict()` is what `bin/verify --json` prints."""

    path: Path
    manifest: ManifestReport
    watermark: watermark.WatermarkResult | None
    watermark_error: str | None = None

    @property
    def manifest_marked(self) -> bool:
        return (
            self.manifest.state == "valid" and self.manifest.digital_source_type in SYNTHETIC_TYPES
        )

    @property
    def marked(self) -> bool:
        return self.manifest_marked or bool(self.watermark and self.watermark.found)

    def model_id(self) -> str | None:
        model = self.manifest.model
        if not model:
            return None
        return f"{model.get('name')}/{model.get('version')} sha256:{model.get('sha256', '')}"

    def to_dict(self) -> dict:
        """Nested objects: "c2pa" and "watermark" (e.g. `c2pa.state` is ["c2pa"]["state"])."""
        manifest, result = self.manifest, self.watermark
        mark_ids = self.manifest.watermark or {}
        return {
            "file": str(self.path),
            "marked": self.marked,
            "c2pa": {
                "state": manifest.state,
                "trusted": manifest.trusted,
                "signer": manifest.signer,
                "issuer": manifest.issuer,
                "digital_source_type": manifest.digital_source_type,
                "actions": manifest.actions,
                "generator": manifest.generator,
                "model_id": self.model_id(),
                "model": manifest.model,
                "watermark_mark_id": mark_ids.get("mark_id"),
                "failures": manifest.failures,
                "error": manifest.error,
            },
            "watermark": {
                "found": bool(result and result.found),
                "score": round(result.score, 2) if result else None,
                "threshold": watermark.THRESHOLD,
                "mark_id": result.mark_id if result else None,
                "frames_read": result.frames_read if result else 0,
                "window_scores": [round(w.score, 2) for w in result.windows] if result else [],
                "error": self.watermark_error,
            },
            "verdict": self.verdict(),
        }

    def verdict(self) -> str:
        """One paragraph a person can act on."""
        name, manifest, result = self.path.name, self.manifest, self.watermark
        parts = []
        if manifest.state == "valid":
            who = f'signed by "{manifest.signer}" (issuer "{manifest.issuer}"; ' + (
                "trusted)"
                if manifest.trusted
                else "not on a trust list, as expected for lipsync_tf's local identity)"
            )
            what = manifest.digital_source_type or "no digital source type"
            made = f" by {manifest.generator}" if manifest.generator else ""
            model = ""
            if manifest.model:
                short = str(manifest.model.get("sha256", ""))[:12]
                model = f", model {manifest.model.get('name')}/{manifest.model.get('version')} "
                model += f"(sha256 {short}...)"
            parts.append(
                f"{name} carries a valid C2PA manifest {who}: {', '.join(manifest.actions)}"
                f"{made}{model}, digital source type {what}."
            )
        elif manifest.state == "invalid":
            reason = ", ".join(manifest.failures) or manifest.error or "unknown reason"
            parts.append(
                f"{name} carries a C2PA manifest that does NOT validate ({reason}): the file "
                "was changed after signing, so its claims cannot be trusted."
            )
        else:
            parts.append(
                f"{name} has no C2PA manifest (it may have been re-encoded or stripped of "
                "metadata)."
            )
        if result is None:
            parts.append(
                f"Its frames could not be read for the watermark ({self.watermark_error})."
            )
        elif result.found:
            match = ""
            expected = (manifest.watermark or {}).get("mark_id")
            if expected is not None:
                match = (
                    ", matching the manifest"
                    if expected == result.mark_id
                    else f", not the manifest's {expected}"
                )
            parts.append(
                f"The lipsync_tf watermark is in its frames (score {result.score:.1f}, threshold "
                f"{result.threshold:.0f}; model mark {result.mark_id}{match}): it was made by "
                "lipsync_tf."
            )
        else:
            parts.append(
                f"No lipsync_tf watermark was found in its frames (best score {result.score:.1f}, "
                f"threshold {result.threshold:.0f})."
            )
        if self.marked:
            parts.append("Verdict: marked as AI-generated.")
        else:
            parts.append(
                "Verdict: no mark found. That does not prove it is authentic: other tools leave "
                "neither mark, and cropping or heavy editing can remove the watermark."
            )
        return " ".join(parts)


def verify_file(path: str | Path, max_seconds: float | None = None) -> VerifyReport:
    """Reads both marks of `path`; raises `UnreadableFileError` when it is not a readable
    video (nor an asset with a readable manifest)."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError(f"{path} does not exist or is not a file; check the path.")
    manifest = read_manifest(path)
    try:
        result = watermark.detect_file(path, max_seconds)
        error = None if result.frames_read else "no video frames"
    except (av.FFmpegError, OSError, ValueError) as failure:
        result, error = None, " ".join(str(failure).split()) or type(failure).__name__
    if error is not None:
        result = None
        if manifest.state != "valid":
            raise UnreadableFileError(
                f"cannot read {path} as a video ({error}); give an mp4 or another video file."
            )
    return VerifyReport(path, manifest, result, error)
