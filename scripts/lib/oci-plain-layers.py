#!/usr/bin/env python3
"""Adds to an OCI layout a copy of image SRC_TAG whose gzip layers are stored as
plain tar (media type ...layer.v1.tar), tagged DST_TAG. The config is unchanged:
its rootfs.diff_ids are already the digests of the uncompressed tars.

usage: oci-plain-layers.py LAYOUT SRC_TAG DST_TAG
"""
import gzip
import hashlib
import json
import os
import sys

layout, source_tag, target_tag = sys.argv[1:4]


def blob_path(digest):
    return os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1])


def put(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(digest), "wb") as f:
        f.write(data)
    return digest


with open(os.path.join(layout, "index.json")) as f:
    index = json.load(f)
entry = next(m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == source_tag)
with open(blob_path(entry["digest"]), "rb") as f:
    manifest = json.load(f)
for layer in manifest["layers"]:
    if layer["mediaType"].endswith("+gzip"):
        with open(blob_path(layer["digest"]), "rb") as f:
            plain = gzip.decompress(f.read())
        layer["digest"] = put(plain)
        layer["size"] = len(plain)
        layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar"
data = json.dumps(manifest, separators=(",", ":")).encode()
index["manifests"].append({
    "mediaType": entry["mediaType"], "digest": put(data), "size": len(data),
    "annotations": {"org.opencontainers.image.ref.name": target_tag},
})
with open(os.path.join(layout, "index.json.tmp"), "w") as f:
    json.dump(index, f)
os.replace(os.path.join(layout, "index.json.tmp"), os.path.join(layout, "index.json"))
