#!/usr/bin/env python3
"""OpenCV FaceDetectorYN reference for Pinhole's YuNet detector (dev tool, never a product dependency).

  detect --model M [--threshold T] [--threads N] IMAGE...
      One JSON line per image: {"image", "width", "height", "faces": [[x, y, w, h, score, 10 landmark coords]]},
      detected at the image's own size (the caller prepares detection-size images).
  bench --model M --size WxH --threads N [--runs R] IMAGE...
      Resizes each image to WxH before timing, then times FaceDetectorYN.detect() alone and prints
      {"size", "threads", "n", "median_ms", "p90_ms", "opencv"}.

Needs opencv-python-headless (4.14 from the local PyPI mirror) in a venv, e.g.
  python3 -m venv /tmp/pinhole-cv-venv && /tmp/pinhole-cv-venv/bin/pip install opencv-python-headless==4.14.0.94 numpy
"""
import argparse
import json
import sys
import time

import cv2


def make_detector(model, w, h, threshold):
    return cv2.FaceDetectorYN.create(model, "", (w, h), threshold, 0.3, 5000)


def cmd_detect(args):
    cv2.setNumThreads(args.threads)
    status = 0
    for path in args.images:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            print(json.dumps({"image": path, "error": "unreadable"}))
            status = 1
            continue
        h, w = img.shape[:2]
        det = make_detector(args.model, w, h, args.threshold)
        _, faces = det.detect(img)
        rows = [] if faces is None else [[float(v) for v in row[[0, 1, 2, 3, 14, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]]] for row in faces]
        print(json.dumps({"image": path, "width": w, "height": h, "faces": rows}))
    return status


def cmd_bench(args):
    cv2.setNumThreads(args.threads)
    w, h = (int(v) for v in args.size.lower().split("x"))
    imgs = []
    for path in args.images:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            print(f"{path}: unreadable", file=sys.stderr)
            return 1
        imgs.append(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA))
    det = make_detector(args.model, w, h, args.threshold)
    for img in imgs[:2] * 3:
        det.detect(img)
    times = []
    for _ in range(args.runs):
        for img in imgs:
            t0 = time.perf_counter()
            det.detect(img)
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    n = len(times)
    print(json.dumps({
        "size": f"{w}x{h}",
        "threads": args.threads,
        "n": n,
        "median_ms": round(times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2, 4),
        "p90_ms": round(times[min(n - 1, int(0.9 * n))], 4),
        "opencv": cv2.__version__,
    }))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("detect", "bench"):
        s = sub.add_parser(name)
        s.add_argument("--model", required=True)
        s.add_argument("--threads", type=int, default=1)
        s.add_argument("--threshold", type=float, default=0.6)
        s.add_argument("images", nargs="+")
        if name == "bench":
            s.add_argument("--size", required=True)
            s.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    return cmd_detect(args) if args.cmd == "detect" else cmd_bench(args)


if __name__ == "__main__":
    sys.exit(main())
