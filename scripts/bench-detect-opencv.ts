/**
 * Our YuNet detector against OpenCV 4.14 FaceDetectorYN, side by side in one run, and the ratios the face issue sets
 * goals for. Needs a Python with cv2 ($PINHOLE_OPENCV_PYTHON; see scripts/opencv-bench.py):
 *   npx tsc -p tsconfig.json && node dist/scripts/bench-detect-opencv.js [--quick]
 */
import { run } from '../src/bench/detect.js';

const res = await run({ quick: process.argv.includes('--quick') });
process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
