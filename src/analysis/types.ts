import type { Face } from '../vision/face.js';

export type { Face };

/** An interleaved 8-bit RGB image in memory (what sharp's `.raw()` gives for a 3-channel image). */
export interface RgbImage {
  data: Buffer | Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/** The four analysis models; each can be missing or broken on its own (only that feature is then off). */
export type AnalysisFeature = 'expression' | 'descriptor' | 'mask' | 'pose';
export const ANALYSIS_FEATURES: readonly AnalysisFeature[] = ['expression', 'descriptor', 'mask', 'pose'];

/** FER-2013 classes in the model's output order (MANIFEST: fer_mini_xception `emotion` [N,7]). */
export const EXPRESSION_NAMES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;
export type ExpressionName = (typeof EXPRESSION_NAMES)[number];
/** Softmax probabilities, one per class, summing to 1. */
export type Expression = Record<ExpressionName, number>;

/** A 128-D dlib face descriptor (Euclidean space: same person ⇔ distance < SAME_PERSON_DISTANCE). */
export type Descriptor = Float32Array;
export const DESCRIPTOR_LENGTH = 128;
/** dlib's convention for dlib_face_recognition_resnet_model_v1: two faces below this distance are one person. */
export const SAME_PERSON_DISTANCE = 0.6;

/** What analysis found for one face. Fields are absent when not asked for; `skipped` says why one was not made. */
export interface FaceAnalysis {
  /** The face as given (same pixels as the image it was analysed in). */
  face: Face;
  expression?: Expression;
  /** P(happy): the smile score the smile shutter compares with `camera.capture.smile.threshold`. */
  smile?: number;
  descriptor?: Descriptor;
  /** Per feature, why it was not computed for this face (too small, model unavailable). */
  skipped?: Partial<Record<'expression' | 'descriptor', string>>;
}

export interface AnalyzeOptions {
  /** Expression probabilities and smile (default true). */
  expression?: boolean;
  /** 128-D descriptor (default false: only People and `pinhole faces` need it). */
  descriptor?: boolean;
}

/** Result for an encoded image: sizes are those of the displayed original (EXIF orientation applied). */
export interface ImageAnalysis {
  width: number;
  height: number;
  /** In original-image pixels, in the order of the faces given. */
  faces: FaceAnalysis[];
}

/**
 * Person probability on the segmentation model's grid (256×256 or 256 wide × 144 high), for an image of
 * imageWidth×imageHeight that was stretched to that grid (MediaPipe's selfie segmentation does not keep the
 * aspect ratio). Values 0..1, row-major.
 */
export interface PersonMask {
  width: number;
  height: number;
  data: Float32Array;
  imageWidth: number;
  imageHeight: number;
  /** Fraction of grid cells with probability ≥ 0.5: 0 means no person was found. */
  coverage: number;
}

/** COCO keypoint order, as MoveNet outputs them. */
export const KEYPOINT_NAMES = [
  'nose',
  'left_eye',
  'right_eye',
  'left_ear',
  'right_ear',
  'left_shoulder',
  'right_shoulder',
  'left_elbow',
  'right_elbow',
  'left_wrist',
  'right_wrist',
  'left_hip',
  'right_hip',
  'left_knee',
  'right_knee',
  'left_ankle',
  'right_ankle',
] as const;
export type KeypointName = (typeof KEYPOINT_NAMES)[number];

/** One body keypoint in image pixels; `score` is MoveNet's confidence 0..1. Left/right are the subject's. */
export interface Keypoint {
  name: KeypointName;
  x: number;
  y: number;
  score: number;
}

/** A single-person pose: 17 keypoints in KEYPOINT_NAMES order, in the pixels of the image given. */
export interface Pose {
  keypoints: Keypoint[];
  width: number;
  height: number;
}

export type FeatureState = 'idle' | 'loaded' | 'unavailable';

export interface FeatureStatus {
  /** idle: usable, session not resident; loaded: session resident; unavailable: model missing or corrupt. */
  state: FeatureState;
  model: string;
  reason?: string;
  runs: number;
  lastMs?: number;
}

export interface AnalysisStatus {
  features: Record<AnalysisFeature, FeatureStatus>;
  /** Sessions resident now and the cap (`vision.analysis.maxSessions`, from the board profile). */
  resident: number;
  maxSessions: number;
}
