// Stand-in for `pinhole detect --json` / `pinhole filter denoise` used by scripts/arm64-check.sh while those CLI
// commands are not registered. Plain JS so the arm64 Node under qemu runs it straight from the copied tree; it
// imports the built daemon code (dist/) and resolves onnxruntime-node and sharp from the tree it runs in.
//   node scripts/arm64/driver.mjs detect MODEL IMAGE        → one JSON line like `pinhole detect --json`
//   node scripts/arm64/driver.mjs denoise MODEL IN OUT.png  → IRCNN denoise of IN (RGB 0..1 NCHW), PNG out
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [cmd, ...args] = process.argv.slice(2);
const r2 = (v) => Math.round(v * 100) / 100;

async function detect(model, image) {
  const { loadFaceDetector } = await import(path.join(root, 'dist/src/vision/face-model.js'));
  const detector = await loadFaceDetector({
    model,
    modelsDir: path.dirname(model),
    threads: 2,
    optimization: 'all',
    memArena: false,
    inputSize: { width: 640, height: 480 },
  });
  try {
    const res = await detector.detectImage(image, { maxSide: 640, threshold: 0.6 });
    const faces = res.faces.map((f) => ({
      box: f.box.map(r2),
      score: Math.round(f.score * 1e4) / 1e4,
      landmarks: f.landmarks.map(([x, y]) => [r2(x), r2(y)]),
    }));
    process.stdout.write(`${JSON.stringify({ image, width: res.width, height: res.height, faces })}\n`);
  } finally {
    await detector.release();
  }
}

async function denoise(model, input, output) {
  const { default: sharp } = await import('sharp');
  const ort = await import('onnxruntime-node');
  sharp.concurrency(1);
  const { data, info } = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width: w, height: h } = info;
  const plane = w * h;
  const x = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) x[c * plane + i] = data[i * 3 + c] / 255;
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: false,
  });
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, h, w]) });
  const y = out[session.outputNames[0]].data;
  await session.release();
  const rgb = Buffer.alloc(3 * plane);
  for (let i = 0; i < plane; i++)
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round(Math.min(1, Math.max(0, y[c * plane + i])) * 255);
  await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(output);
  process.stdout.write(`${JSON.stringify({ input, output, width: w, height: h })}\n`);
}

try {
  if (cmd === 'detect' && args.length === 2) await detect(args[0], args[1]);
  else if (cmd === 'denoise' && args.length === 3) await denoise(args[0], args[1], args[2]);
  else {
    process.stderr.write('usage: driver.mjs detect MODEL IMAGE | denoise MODEL IN OUT.png\n');
    process.exitCode = 2;
  }
} catch (e) {
  process.stderr.write(`driver: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
}
