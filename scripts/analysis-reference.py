#!/usr/bin/env python3
"""Reference face analysis for Pinhole's src/analysis (dev tool, never a product dependency).

  analysis-reference.py --models DIR JOB.json
      JOB.json: {"images": [{"id", "png", "faces": [{"box": [x,y,w,h], "landmarks": [[x,y] x5]}]}]}
      Prints one JSON line per image: {"id", "faces": [{"expression": [7], "descriptor": [128]}]}.

Written from the sources, not from Pinhole's code: dlib's get_face_chip_details / extract_image_chips
(dlib/image_transforms/interpolation.h) for the descriptor chip, Umeyama's similarity (find_similarity_transform),
the MANIFEST's square crop for expressions, a 2x2 box-average pyramid, cv2.warpAffine (INTER_LINEAR |
WARP_INVERSE_MAP, BORDER_CONSTANT 0) and cv2.cvtColor, then onnxruntime (1 thread) on the seed models.

Needs a venv with opencv-python-headless 4.14 and onnxruntime 1.30 from the local PyPI mirror:
  python3 -m venv /tmp/pinhole-faces-venv
  /tmp/pinhole-faces-venv/bin/pip install opencv-python-headless==4.14.0.94 onnxruntime==1.30.0 numpy
"""
import argparse
import json
import math
import os

import cv2
import numpy as np
import onnxruntime as ort

# dlib interpolation.h, get_face_chip_details: mean_face_shape_x/y for iBUG points 17..67
MX = [0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004,
      0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737,
      0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751,
      0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
      0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127,
      0.42689]
MY = [0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454,
      0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423,
      0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077,
      0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805, 0.902192,
      0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803,
      0.824182]
SHAPE = np.stack([np.array(MX), np.array(MY)], axis=1)  # row k = iBUG point k + 17


def ibug(i):
    return SHAPE[i - 17]


# YuNet order: subject's right eye (image left, iBUG 36-41), left eye (42-47), nose tip (30), right mouth corner
# (48), left mouth corner (54)
TEMPLATE = np.array([SHAPE[36 - 17:42 - 17].mean(axis=0),
                     SHAPE[42 - 17:48 - 17].mean(axis=0), ibug(30), ibug(48), ibug(54)])


def umeyama(src, dst):
    """Similarity taking src onto dst (Umeyama 1991, eqs. 34-43, as dlib's find_similarity_transform)."""
    n = len(src)
    ms, md = src.mean(0), dst.mean(0)
    sc, dc = src - ms, dst - md
    var = (sc ** 2).sum() / n
    cov = dc.T @ sc / n
    u, d, vt = np.linalg.svd(cov)
    s = np.eye(2)
    if np.linalg.det(cov) < 0:
        s[1, 1] = -1
    r = u @ s @ vt
    c = np.trace(np.diag(d) @ s) / var
    a = c * r
    t = md - a @ ms
    return a, t


def chip_map(landmarks, size=150, padding=0.25):
    """Chip pixel -> image pixel, as dlib's chip_details(chip_points, img_points, dims) + extract_image_chips."""
    chip_pts = (padding + TEMPLATE) / (2 * padding + 1) * size
    a, t = umeyama(chip_pts, np.asarray(landmarks, float))
    p = a @ np.array([1.0, 0.0])
    angle = math.atan2(p[1], p[0])
    scale = math.hypot(p[0], p[1])
    centre = a @ np.array([size / 2, size / 2]) + t
    w = size * scale - 1  # centered_drect: width-- before halving
    l, r, top, b = centre[0] - w / 2, centre[0] + w / 2, centre[1] - w / 2, centre[1] + w / 2
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])

    def rp(x, y):
        return centre + rot @ (np.array([x, y]) - centre)

    tl, tr, bl = rp(l, top), rp(r, top), rp(l, b)
    # chip (0,0)->tl, (size-1,0)->tr, (0,size-1)->bl
    m = np.zeros((2, 3))
    m[:, 0] = (tr - tl) / (size - 1)
    m[:, 1] = (bl - tl) / (size - 1)
    m[:, 2] = tl
    return m, size * scale


def square_map(box, size=64):
    x, y, w, h = box
    side = max(w, h)
    s = side / size
    x0 = x + w / 2 - side / 2
    y0 = y + h / 2 - side / 2
    return np.array([[s, 0, x0 + 0.5 * s - 0.5], [0, s, y0 + 0.5 * s - 0.5]]), side


def levels_for(source_side, out_size):
    n = 0
    while source_side / 2 > out_size:
        source_side /= 2
        n += 1
    return n


def pyramid(img, n):
    out = [img]
    for _ in range(n):
        p = out[-1].astype(np.uint16)
        h, w = p.shape[0] // 2, p.shape[1] // 2
        q = p[0:2 * h:2, 0:2 * w:2] + p[0:2 * h:2, 1:2 * w:2] + p[1:2 * h:2, 0:2 * w:2] + p[1:2 * h:2, 1:2 * w:2]
        out.append(((q + 2) >> 2).astype(np.uint8))
    return out


def crop(pyr, m, source_side, size):
    n = levels_for(source_side, size)
    k = 2 ** n
    ml = m / k
    ml[:, 2] = (m[:, 2] - (k - 1) / 2) / k
    return cv2.warpAffine(pyr[n], ml, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def session(path):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, help="folder with fer_mini_xception.onnx and dlib_resnet_faceapi.onnx")
    ap.add_argument("job")
    args = ap.parse_args()
    fer = session(os.path.join(args.models, "fer_mini_xception.onnx"))
    dlib = session(os.path.join(args.models, "dlib_resnet_faceapi.onnx"))
    job = json.load(open(args.job))
    for item in job["images"]:
        bgr = cv2.imread(item["png"], cv2.IMREAD_COLOR)
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        pyr = pyramid(rgb, 8)
        faces = []
        for f in item["faces"]:
            m, side = square_map(f["box"])
            c = crop(pyr, m, side, 64)
            g = cv2.cvtColor(c, cv2.COLOR_RGB2GRAY)
            x = ((g.astype(np.float32) / np.float32(255.0) - np.float32(0.5)) * np.float32(2.0))[None, :, :, None]
            expr = fer.run(None, {fer.get_inputs()[0].name: x})[0][0]
            m, side = chip_map(f["landmarks"])
            chip = crop(pyr, m, side, 150)
            t = chip.astype(np.float32).transpose(2, 0, 1)[None]
            desc = dlib.run(None, {dlib.get_inputs()[0].name: t})[0][0]
            faces.append({"expression": [float(v) for v in expr], "descriptor": [float(v) for v in desc]})
        print(json.dumps({"id": item["id"], "faces": faces}), flush=True)


if __name__ == "__main__":
    main()
