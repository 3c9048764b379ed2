"""Provenance: every generated video says it is synthetic, in two independent ways.

A signed C2PA manifest in the mp4 (`c2pa_manifest`, signed with the user's certificate or a local
identity, `identity`) and an invisible watermark in the frames (`watermark`) that survives
re-encoding when the manifest is stripped; `verify` reads both (`bin/verify`).
"""
