# Copyright (c) 2026 The monai_ext authors. Licensed under the Apache License, Version 2.0.
"""DS2F and SS-MAF served by the real MONAI Label server (run by ``.ci/monailabel_e2e.sh``, in its environment).

For each bundle, one server (``monailabel start_server`` on 127.0.0.1, a free port, the ``monaibundle`` sample app
copied out of the installed monailabel package with ``monailabel apps --download``, which copies and fetches
nothing) with its own studies folder: the same fundus image as a PNG and as a JPG study, non-square, with the ground
truth as its final label. Then:

1. ``GET /info/``: the bundle is listed as a 2D segmentation model with the labels of its metadata.
2. ``POST /infer/<bundle>?image=<id>`` with default parameters, for the PNG and the JPG study: the label comes back as
   a PNG of the image's exact size, uint8, values from the labels map, and equal pixel for pixel to the bundle's own
   folder inference (``inference.json``, run here in-process) on the same file; its Dice against the ground truth
   equals that of the bundle's own inference to 1e-3.
3. ``POST /train/<bundle>?run_sync=true`` for 1 epoch (MONAI Label's own overrides; it passes no others), then
   ``/infer`` with the checkpoint the training wrote: the trained model serves.
4. The server is stopped by its PID (SIGTERM, then SIGKILL of its process group after 60 s).

DS2F is served with its shipped weights. A bundle without ``models/model.pt`` (SS-MAF until its weights land) is
served with seeded stand-in weights written into the served copy only (MONAI Label ignores a bundle without weights):
the default initialisation, with the segmentation head's foreground bias set so that about half of the first study
is foreground; the Dice against the ground truth is then meaningless, but the label is not empty and its alignment
with the bundle's own inference shows. Every request has a timeout and every wait loop a bound. Exit status 0 when
every check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SERVED = {"ds2f": "retina_vessel_segmentation_ds2f", "ss_maf": "retina_exudate_segmentation_ss_maf"}
HOST = "127.0.0.1"
START_TIMEOUT_S = 600
REQUEST_TIMEOUT_S = 900


def log(message: str) -> None:
    print(f"[monailabel_e2e {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def request(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None,
            timeout: float = REQUEST_TIMEOUT_S) -> tuple[int, bytes, dict]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * (a & b).sum() / total)


def make_studies(name: str, folder: Path) -> dict[str, Path]:
    """A PNG and a JPG study of one test image (non-square), ground truth in ``labels/final``; returns
    ``{study id: ground truth file}``."""
    from monai_ext.data import build_datalist, embedded_dataset_dir

    final = folder / "labels" / "final"
    final.mkdir(parents=True)
    if name == "ds2f":
        item = build_datalist("chasedb1", embedded_dataset_dir("chasedb1"), "test")[0]  # Image_11L, 999 x 960
        image, label, box = Image.open(item["image"]), Image.open(item["label"]), None
    else:
        item = build_datalist("idrid_ex_512", embedded_dataset_dir("idrid_ex_512"), "test")[0]
        # IDRiD is square here: crop to 512 x 400 (W x H) so that a transposed label cannot fit
        image, label, box = Image.open(item["image"]), Image.open(item["label"]), (0, 56, 512, 456)
    image, label = image.convert("RGB"), label.convert("L")
    if box is not None:
        image, label = image.crop(box), label.crop(box)
    stem = Path(item["image"]).stem
    truth = {}
    for ext in ("png", "jpg"):
        study = f"{stem}_{ext}"
        image.save(folder / f"{study}.{ext}")
        label.point(lambda v: 1 if v > 0 else 0).save(final / f"{study}.png")
        truth[study] = final / f"{study}.png"
    log(f"{name}: studies {sorted(truth)} of size {image.size} (W x H) from {item['image']}")
    return truth


def serve_bundle(name: str, model_dir: Path, calibration_image: Path) -> Path:
    target = model_dir / SERVED[name]
    shutil.copytree(REPO / "bundles" / name, target, ignore=shutil.ignore_patterns("eval", "__pycache__"))
    weights = target / "models" / "model.pt"
    if weights.is_file():
        log(f"{name}: served with the shipped weights {weights.stat().st_size} bytes")
    else:
        save_stand_in_weights(target, weights, calibration_image)
    return target


def save_stand_in_weights(bundle: Path, weights: Path, image: Path) -> None:
    """Seeded default initialisation, with the foreground bias of the segmentation head shifted so that about half
    of ``image`` is predicted foreground: a label that is not all background, so that alignment can be seen."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser.update({"bundle_root": str(bundle)})
    torch.manual_seed(0)
    net = parser.get_parsed_content("network_def").eval()
    x = parser.get_parsed_content("preprocessing")({"image": str(image)})["image"][None]
    with torch.no_grad():
        logits = net(x)
        net.seg_head.conv.bias[1] -= torch.median(logits[:, 1] - logits[:, 0])
        share = float((net(x).argmax(1) == 1).float().mean())
    torch.save(net.state_dict(), weights)
    log(f"{bundle.name}: no shipped models/model.pt; served with seeded stand-in weights written into the served copy "
        f"only (default initialisation, head bias set for {share:.0%} foreground on {image.name})")


def own_inference(bundle: Path, image: Path, out: Path, checkpoint: str = "model.pt") -> np.ndarray:
    """The bundle's own folder inference (inference.json ``run``) on one file; returns the mask PNG's pixels."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser.update({"bundle_root": str(bundle), "input_dir": [str(image)], "output_dir": str(out),
                   "device": "$torch.device('cpu')", "checkpoint": str(bundle / "models" / checkpoint)})
    sys.path.insert(0, str(bundle))
    try:
        parser.get_parsed_content("run")
    finally:
        sys.path.remove(str(bundle))
    return np.asarray(Image.open(out / f"{image.stem}_seg.png"))


def start_server(app: Path, studies: Path, model: str, port: int, log_file: Path) -> subprocess.Popen:
    command = ["monailabel", "start_server", "--app", str(app), "--studies", str(studies), "--host", HOST,
               "--port", str(port), "--conf", "models", model, "--conf", "zoo_source", "github",
               "--conf", "sam2", "false", "--conf", "preload", "false"]
    log("$ " + " ".join(command))
    stream = open(log_file, "wb")
    return subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=str(app.parent))


def wait_ready(server: subprocess.Popen, base: str) -> dict:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before answering")
        try:
            status, body, _ = request(f"{base}/info/", timeout=10)
            if status == 200:
                return json.loads(body)
        except (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout):
            pass
        time.sleep(2)
    raise TimeoutError(f"no answer from {base}/info/ within {START_TIMEOUT_S} s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    log(f"stopping the server, PID {server.pid}")
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # its own session: the group id is its PID
        server.wait(timeout=30)
    log(f"server stopped (exit {server.returncode})")


def infer(base: str, model: str, study: str, params: dict | None = None) -> tuple[int, bytes, dict]:
    query = urllib.parse.urlencode({"image": study, "output": "image"})
    body = urllib.parse.urlencode({"params": json.dumps(params or {})}).encode() if params else b""
    return request(f"{base}/infer/{model}?{query}", method="POST", data=body,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})


PASSED: list[str] = []


def check_bundle(name: str, work: Path, train: bool) -> list[str]:
    failures: list[str] = []

    def check(ok: bool, message: str) -> None:
        log(("ok    " if ok else "FAILED ") + message)
        (PASSED if ok else failures).append(f"{name}: {message}")

    app_parent = work / name / "apps"
    app_parent.mkdir(parents=True)
    subprocess.run(["monailabel", "apps", "--download", "--name", "monaibundle", "--output", str(app_parent)],
                   check=True, timeout=120, stdout=subprocess.DEVNULL)
    app = app_parent / "monaibundle"
    studies = work / name / "studies"
    truth = make_studies(name, studies)
    bundle = serve_bundle(name, app / "model", next(studies.glob(f"{sorted(truth)[0]}.*")))
    metadata = json.loads((bundle / "configs" / "metadata.json").read_text())
    channel_def = metadata["network_data_format"]["outputs"]["pred"]["channel_def"]
    labels = {v.lower(): int(k) for k, v in channel_def.items() if v.lower() != "background"}

    port = free_port()
    base = f"http://{HOST}:{port}"
    server_log = work / name / "server.log"
    model = SERVED[name]
    start = time.monotonic()
    server = start_server(app, studies, model, port, server_log)
    try:
        info = wait_ready(server, base)
        log(f"{name}: server answered /info/ after {time.monotonic() - start:.0f} s")
        entry = info.get("models", {}).get(model)
        check(entry is not None, f"/info/ lists {model} (models: {sorted(info.get('models', {}))})")
        if entry is None:
            return failures
        check(entry.get("type") == "segmentation" and entry.get("dimension") == 2,
              f"/info/ type {entry.get('type')!r}, dimension {entry.get('dimension')}")
        check(entry.get("labels") == labels, f"/info/ labels {entry.get('labels')} == metadata {labels}")
        check(model in info.get("trainers", {}), f"/info/ lists the trainer {model}")

        for study, truth_file in sorted(truth.items()):
            image_file = next(studies.glob(f"{study}.*"))
            t0 = time.monotonic()
            status, body, headers = infer(base, model, study)
            elapsed = time.monotonic() - t0
            check(status == 200, f"/infer/{model}?image={study} -> HTTP {status} in {elapsed:.1f} s"
                  + ("" if status == 200 else f": {body[:500]!r}"))
            if status != 200:
                continue
            served_file = work / name / f"served_{study}.png"
            served_file.write_bytes(body)
            with Image.open(served_file) as served_image:
                fmt, mode = served_image.format, served_image.mode
                served = np.asarray(served_image)
            with Image.open(image_file) as img:
                size = img.size
            check(fmt == "PNG", f"{study}: label format {fmt} (content type {headers.get('content-type')})")
            check(served.shape == (size[1], size[0]), f"{study}: label {served.shape[1]} x {served.shape[0]} "
                  f"(W x H) for an image of {size[0]} x {size[1]}")
            check(served.dtype == np.uint8 and mode == "L", f"{study}: label dtype {served.dtype}, PIL mode {mode}")
            values = set(np.unique(served).tolist())
            check(values <= {0, *labels.values()}, f"{study}: label values {sorted(values)} within {labels}")
            own = own_inference(bundle, image_file, work / name / "own" / study)
            if own.shape == served.shape:
                same = float(((own > 0) == (served > 0)).mean())
                check(same == 1.0, f"{study}: {same:.6f} of the pixels equal the bundle's own inference")
            else:
                check(False, f"{study}: own inference {own.shape} vs served {served.shape}")
                continue
            gt = np.asarray(Image.open(truth_file))
            d_served, d_own = dice(served, gt), dice(own, gt)
            check(abs(d_served - d_own) <= 1e-3,
                  f"{study}: Dice vs ground truth served {d_served:.4f}, own inference {d_own:.4f}")

        if train:
            models_dir = bundle / "models"
            before = {p.name: p.stat().st_mtime for p in models_dir.glob("*.pt")}
            t0 = time.monotonic()
            params = {"max_epochs": 1, "val_split": 0.0, "device": "cpu", "multi_gpu": False, "tracking": "none"}
            status, body, _ = request(f"{base}/train/{model}?run_sync=true", method="POST",
                                      data=json.dumps(params).encode(),
                                      headers={"Content-Type": "application/json"})
            check(status == 200, f"/train/{model} (1 epoch) -> HTTP {status} in {time.monotonic() - t0:.0f} s"
                  + ("" if status == 200 else f": {body[:500]!r}"))
            written = sorted((p for p in models_dir.glob("*.pt") if before.get(p.name) != p.stat().st_mtime),
                             key=lambda p: p.stat().st_mtime)
            check(bool(written), f"training wrote {[p.name for p in written]}")
            if written:
                checkpoint = written[-1].name
                study = sorted(truth)[0]
                status, body, _ = infer(base, model, study, params={"model_filename": checkpoint})
                check(status == 200, f"/infer/{model} with the trained {checkpoint} -> HTTP {status}")
                if status == 200:
                    served_file = work / name / f"served_trained_{study}.png"
                    served_file.write_bytes(body)
                    served = np.asarray(Image.open(served_file))
                    image_file = next(studies.glob(f"{study}.*"))
                    own = own_inference(bundle, image_file, work / name / "own_trained" / study, checkpoint)
                    check(served.shape == own.shape and bool(((own > 0) == (served > 0)).all()),
                          f"{study}: the trained model's served label equals its own inference")
    except Exception as exc:  # report, stop the server, fail
        check(False, f"{type(exc).__name__}: {exc}")
    finally:
        stop_server(server)
        if failures:
            tail = server_log.read_text(errors="replace").splitlines()[-60:]
            log(f"{name}: last lines of {server_log}:\n" + "\n".join(tail))
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="work folder to use and keep (default: a temporary one, removed)")
    parser.add_argument("--skip-train", action="store_true", help="skip the /train step")
    parser.add_argument("--bundles", nargs="+", default=list(SERVED), choices=list(SERVED))
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="monailabel_e2e_"))
    work.mkdir(parents=True, exist_ok=True)
    import monai
    import monailabel

    log(f"monailabel {monailabel.__version__}, monai {monai.__version__}, torch {torch.__version__}; work {work}")
    start = time.monotonic()
    failures: list[str] = []
    try:
        for name in args.bundles:
            failures += check_bundle(name, work, train=not args.skip_train)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    log(f"done in {time.monotonic() - start:.0f} s")
    for failure in failures:
        print(f"FAILED {failure}")
    print(f"monailabel_e2e: {len(PASSED)} passed, {len(failures)} failed")
    return 1 if failures or not PASSED else 0


if __name__ == "__main__":
    sys.exit(main())
