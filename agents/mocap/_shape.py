"""Body shape from the landmarks: SMPL-X ``betas`` fitted once per clip so the limbs match the person.

The detector's world landmarks (or triangulated ones) give bone lengths (upper arm, forearm,
thigh, shin, shoulder and hip width), their median over the confidently seen frames; rest joints are
linear in ``betas`` (``J_regressor · (template + shapedirs · betas)``), so the lengths those
joints give are fitted to the measured ones, with a prior keeping ``betas`` near the mean shape.
"""

from __future__ import annotations

import numpy as np
import torch

from ._body import BodyModel
from ._fit import _J

# (MediaPipe landmark a, b) → (SMPL-X joint a, b): the lengths measured.
BONES = [
    ((11, 13), ("left_shoulder", "left_elbow")), ((12, 14), ("right_shoulder", "right_elbow")),
    ((13, 15), ("left_elbow", "left_wrist")), ((14, 16), ("right_elbow", "right_wrist")),
    ((23, 25), ("left_hip", "left_knee")), ((24, 26), ("right_hip", "right_knee")),
    ((25, 27), ("left_knee", "left_ankle")), ((26, 28), ("right_knee", "right_ankle")),
    ((11, 12), ("left_shoulder", "right_shoulder")), ((23, 24), ("left_hip", "right_hip")),
]  # fmt: skip
SEEN = 0.7  # visibility above which a landmark's frame counts
SHAPE_PRIOR = 1.5  # betas are in standard deviations: this is how far from the mean a shape may go freely
LENGTH_NOISE = 0.01  # metres: how well a median bone length is known


def measured_lengths(world: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each bone's median length (m) over the frames that saw both its ends, and whether any did.

    ``world`` T×33×3: MediaPipe-indexed landmarks in metres; ``confidence`` T×33.
    """
    lengths, known = np.zeros(len(BONES)), np.zeros(len(BONES), dtype=bool)
    for i, ((a, b), _) in enumerate(BONES):
        seen = (confidence[:, a] > SEEN) & (confidence[:, b] > SEEN)
        if seen.sum() >= 3:
            lengths[i] = np.median(np.linalg.norm(world[seen, a] - world[seen, b], axis=-1))
            known[i] = True
    return lengths, known


def fit_betas(
    model: BodyModel, world: np.ndarray, confidence: np.ndarray, iterations: int = 200
) -> np.ndarray:
    """``betas`` whose rest bone lengths best match those measured (the mean shape if none were)."""
    lengths, known = measured_lengths(world, confidence)
    count = model.smplx.num_betas
    if not known.any():
        return np.zeros(count)
    smplx = model.smplx
    with torch.no_grad():
        template = smplx.J_regressor.double() @ smplx.v_template.double()  # 55×3
        directions = torch.einsum("jv,vcb->jcb", smplx.J_regressor.double(), smplx.shapedirs.double())
    ends = torch.tensor([[_J[a], _J[b]] for _, (a, b) in BONES])[torch.as_tensor(known)]
    target = torch.tensor(lengths[known])
    betas = torch.zeros(count, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([betas], max_iter=iterations, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        joints = template + directions @ betas
        found = (joints[ends[:, 0]] - joints[ends[:, 1]]).norm(dim=-1)
        value = ((found - target) / LENGTH_NOISE).square().sum() + (betas / SHAPE_PRIOR).square().sum()
        value.backward()
        return value

    optimiser.step(loss)
    return betas.detach().numpy()
