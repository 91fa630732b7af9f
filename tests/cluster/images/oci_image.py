#!/usr/bin/env python3
"""An OCI image layout tar of one layer, for `ctr images import`: no registry and no Docker.

  oci_image.py NAME OUT.tar --user U --entrypoint JSON [--cmd JSON] SRC:DEST [SRC:DEST ...]

Every file goes in at DEST, owned by root, mode 0755, with its parent directories, and a fixed
mtime, so that the same binaries make the same image. NAME is the full name the pod spec's image
resolves to (docker.io/library/lameduck:dev): containerd takes the index's
io.containerd.image.name annotation as it is.
"""
import argparse
import hashlib
import io
import json
import tarfile


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_of(files):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as layer:
        made = set()
        for src, dest in files:
            parts = dest.strip("/").split("/")
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in made:
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    layer.addfile(info)
                    made.add(directory)
            with open(src, "rb") as data:
                content = data.read()
            info = tarfile.TarInfo("/".join(parts))
            info.size, info.mode = len(content), 0o755
            layer.addfile(info, io.BytesIO(content))
    return out.getvalue()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("out")
    parser.add_argument("--user", required=True)
    parser.add_argument("--entrypoint", required=True, type=json.loads)
    parser.add_argument("--cmd", type=json.loads)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    layer = layer_of([spec.split(":", 1) for spec in args.files])
    settings = {"User": args.user, "Entrypoint": args.entrypoint, "WorkingDir": "/"}
    if args.cmd:
        settings["Cmd"] = args.cmd
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": settings,
                         "rootfs": {"type": "layers", "diff_ids": [digest(layer)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer),
                    "size": len(layer)}],
    }).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest),
        "size": len(manifest), "annotations": {"io.containerd.image.name": args.name}}]}).encode()

    with tarfile.open(args.out, "w") as image:
        def add(path, data):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            image.addfile(info, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", index)
        for blob in (layer, config, manifest):
            add("blobs/sha256/" + digest(blob)[len("sha256:"):], blob)


if __name__ == "__main__":
    main()
