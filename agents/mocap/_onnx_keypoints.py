"""A stronger 2-D detector from the user's own weights: an RTMPose-style ONNX model through onnxruntime.

It runs top-down on the person the base detector (MediaPipe) found, and its keypoints replace the
base's image landmarks where it is confident; the base's 3-D world landmarks stay (the fit needs
them). The model contract is what mmpose exports for RTMPose: input float32 1×3×H×W, RGB,
normalised by ImageNet's mean (123.675, 116.28, 103.53) and std (58.395, 57.12, 57.375); outputs
SimCC ``simcc_x`` 1×K×(W·s) and ``simcc_y`` 1×K×(H·s) (s: the split ratio, 2 in RTMPose); K = 17
(COCO order) or 133 (COCO-WholeBody, whose feet add toes and heels). The crop is the base
landmarks' box, 1.25× larger, widened or heightened to the model's aspect.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from protocols import InvalidArgument, NotFound

from ._landmarks import Box, Landmarks, LandmarkSource

MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
PADDING = 1.25
# COCO keypoint → MediaPipe pose landmark; COCO-WholeBody's feet follow (17 left big toe … 22 right heel).
COCO_TO_MEDIAPIPE = {
    0: 0, 1: 2, 2: 5, 3: 7, 4: 8, 5: 11, 6: 12, 7: 13, 8: 14, 9: 15, 10: 16,
    11: 23, 12: 24, 13: 25, 14: 26, 15: 27, 16: 28,
}  # fmt: skip
WHOLEBODY_FEET = {17: 31, 19: 29, 20: 32, 22: 30}


class OnnxKeypointSource(LandmarkSource):
    """The base detector's landmarks with their image points from an ONNX keypoint model."""

    def __init__(self, model_path: str | Path, base: LandmarkSource, min_score: float = 0.3) -> None:
        import onnxruntime

        path = Path(model_path)
        if not path.is_file():
            raise NotFound(f"keypoint model {str(path)!r} does not exist", field="detector_model")
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise InvalidArgument(
                f"{str(path)!r} is not an ONNX model: {exc}", field="detector_model"
            ) from exc
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else None
        if (
            shape is None
            or len(shape) != 4
            or not all(isinstance(n, int) for n in shape[1:])
            or shape[1] != 3
        ):
            raise InvalidArgument(
                f"keypoint model {path.name!r} must take one 1×3×H×W image, not {shape}",
                field="detector_model",
            )
        self.height, self.width = int(shape[2]), int(shape[3])
        names = [o.name for o in outputs]
        if len(outputs) != 2 or any(len(o.shape) != 3 for o in outputs):
            raise InvalidArgument(
                f"keypoint model {path.name!r} must give SimCC x and y (1×K×N each), not {names}",
                field="detector_model",
            )
        keypoints = outputs[0].shape[1]
        if keypoints not in (17, 133):
            raise InvalidArgument(
                f"keypoint model {path.name!r} gives {keypoints} keypoints, not COCO's 17 or WholeBody's 133",
                field="detector_model",
            )
        self.mapping = {**COCO_TO_MEDIAPIPE, **(WHOLEBODY_FEET if keypoints == 133 else {})}
        self.input = inputs[0].name
        self.base, self.min_score = base, min_score

    def detect(self, frames: np.ndarray, fps: float, person: int = 0, box: Box | None = None) -> Landmarks:
        found = self.base.detect(frames, fps, person, box)
        body_uv, body_vis = found.body_uv.copy(), found.body_vis.copy()
        source = np.array(list(self.mapping))
        target = np.array(list(self.mapping.values()))
        for t in np.flatnonzero(found.detected):
            crop = self.crop_box(found.body_uv[t], found.body_vis[t])
            if crop is None:
                continue
            points, scores = self.keypoints(frames[t], crop)
            sure = scores[source] >= self.min_score
            body_uv[t, target[sure]] = points[source[sure]]
            body_vis[t, target[sure]] = np.maximum(
                body_vis[t, target[sure]], np.minimum(scores[source[sure]], 1.0)
            )
        return replace(found, body_uv=body_uv, body_vis=body_vis)

    def crop_box(self, uv: np.ndarray, vis: np.ndarray) -> tuple[float, float, float, float] | None:
        """The crop (centre x, centre y, width, height px) around the landmarks seen, model's aspect."""
        seen = uv[vis > 0.5]
        if len(seen) < 4:
            return None
        low, high = seen.min(0), seen.max(0)
        width, height = (high - low) * PADDING
        aspect = self.width / self.height
        width, height = max(width, height * aspect), max(height, width / aspect)
        centre = (low + high) / 2
        return float(centre[0]), float(centre[1]), float(width), float(height)

    def keypoints(
        self, frame: np.ndarray, box: tuple[float, float, float, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints K×2 (image px) and scores (K,) of the person in ``box`` of ``frame`` (RGB)."""
        cx, cy, width, _ = box
        scale = self.width / width  # the same along y: the box has the model's aspect
        to_crop = np.array(
            [[scale, 0.0, self.width / 2 - scale * cx], [0.0, scale, self.height / 2 - scale * cy]]
        )
        crop = cv2.warpAffine(frame, to_crop, (self.width, self.height), flags=cv2.INTER_LINEAR)
        tensor = ((crop.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None]
        simcc_x, simcc_y = self.session.run(None, {self.input: tensor})
        split_x = simcc_x.shape[2] / self.width
        split_y = simcc_y.shape[2] / self.height
        in_crop = np.stack([simcc_x[0].argmax(-1) / split_x, simcc_y[0].argmax(-1) / split_y], -1)
        scores = np.minimum(simcc_x[0].max(-1), simcc_y[0].max(-1))
        return (in_crop - to_crop[:, 2]) / scale, scores
