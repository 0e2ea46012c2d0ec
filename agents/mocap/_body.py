"""The SMPL-X body as the fit sees it: rest joints, keypoint vertices, and a joints-only forward.

``BodyModel`` loads a model file with ``smplx`` once; ``forward`` is a pure function of its
arrays that poses only the 55 joints and the few keypoint vertices (with ``smplx.lbs``'s own
rigid-transform chain), so a whole clip fits in milliseconds instead of skinning 10k vertices.
"""

from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from smplx.lbs import batch_rigid_transform, batch_rodrigues
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from protocols import InvalidArgument, NotFound

# Keypoint vertices (smplx's names) the landmarks use, in this order after the 55 joints.
KEYPOINT_VERTICES = (
    "nose", "leye", "reye", "lear", "rear", "LHeel", "RHeel", "LBigToe", "RBigToe",
    "lthumb", "lindex", "lmiddle", "lring", "lpinky", "rthumb", "rindex", "rmiddle", "rring", "rpinky",
)  # fmt: skip
NUM_JOINTS = 55
NUM_POINTS = NUM_JOINTS + len(KEYPOINT_VERTICES)


@dataclass(frozen=True)
class BodyArrays:
    """What the forward needs: rest joints 55×3, keypoint rest vertices K×3, their skin weights K×55,
    their pose correctives 486×(K·3), parents (55,)."""

    rest_joints: torch.Tensor
    rest_keypoints: torch.Tensor
    keypoint_weights: torch.Tensor
    keypoint_posedirs: torch.Tensor
    parents: torch.Tensor


def forward(body: BodyArrays, pose: torch.Tensor, transl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posed points for axis-angle ``pose`` T×55×3 and ``transl`` T×3.

    Returns (points T×(55+K)×3: joints then keypoint vertices, world rotations T×55×3×3).
    """
    frames = pose.shape[0]
    rot = batch_rodrigues(pose.reshape(-1, 3)).reshape(frames, NUM_JOINTS, 3, 3)
    rest = body.rest_joints.expand(frames, -1, -1)
    joints, rel = batch_rigid_transform(rot, rest, body.parents, dtype=pose.dtype)
    eye = torch.eye(3, dtype=pose.dtype)
    feature = (rot[:, 1:] - eye).reshape(frames, -1)
    verts = body.rest_keypoints + (feature @ body.keypoint_posedirs).reshape(frames, -1, 3)
    blend = torch.einsum("kj,tjab->tkab", body.keypoint_weights, rel)
    keypoints = (blend[..., :3, :3] @ verts.unsqueeze(-1)).squeeze(-1) + blend[..., :3, 3]
    world_rot = _chain_rotations(rot, body.parents)
    return torch.cat([joints, keypoints], 1) + transl[:, None], world_rot


def _chain_rotations(rot: torch.Tensor, parents: torch.Tensor) -> torch.Tensor:
    """World rotations T×55×3×3 from local ones along the kinematic tree."""
    chain = [rot[:, 0]]
    for j in range(1, rot.shape[1]):
        chain.append(chain[int(parents[j])] @ rot[:, j])
    return torch.stack(chain, 1)


class BodyModel:
    """A SMPL-X model file loaded with ``smplx`` (neutral shape unless ``betas`` are given)."""

    def __init__(self, path: str | Path, betas: np.ndarray | None = None) -> None:
        import smplx

        path = Path(path)
        if not path.is_file():
            raise NotFound(f"SMPL-X model file {str(path)!r} does not exist", field="model_path")
        if path.suffix not in (".npz", ".pkl"):
            raise InvalidArgument(
                f"SMPL-X model {str(path)!r} must be a .npz or .pkl file", field="model_path"
            )
        try:
            # smplx prints a notice about 10-coefficient models; it is not an error
            with contextlib.redirect_stdout(io.StringIO()):
                self.smplx = smplx.create(
                    str(path), model_type="smplx", ext=path.suffix[1:], use_pca=False, flat_hand_mean=True,
                    num_betas=10,
                )  # fmt: skip
        except (KeyError, ValueError, OSError, AttributeError) as exc:
            raise InvalidArgument(
                f"{str(path)!r} is not a SMPL-X model file: {exc}", field="model_path"
            ) from exc
        self.path = path
        self.betas = np.zeros(self.smplx.num_betas) if betas is None else np.asarray(betas, dtype=np.float64)
        self.arrays = self._arrays()

    def shaped(self, betas: np.ndarray) -> BodyModel:
        """This model with shape ``betas`` (the file is not read again)."""
        other = copy.copy(self)
        other.betas = np.asarray(betas, dtype=np.float64)
        other.arrays = other._arrays()
        return other

    def _arrays(self) -> BodyArrays:
        model = self.smplx
        betas = torch.as_tensor(self.betas, dtype=torch.float32)[None]
        from smplx.lbs import blend_shapes, vertices2joints

        with torch.no_grad():
            shaped = model.v_template[None] + blend_shapes(betas, model.shapedirs)
            joints = vertices2joints(model.J_regressor, shaped)[0]
        ids = torch.tensor([SMPLX_VERTEX_IDS["smplx"][name] for name in KEYPOINT_VERTICES])
        posedirs = model.posedirs.reshape(486, -1, 3)[:, ids].reshape(486, -1)
        return BodyArrays(
            rest_joints=joints.double(),
            rest_keypoints=shaped[0, ids].double(),
            keypoint_weights=model.lbs_weights[ids].double(),
            keypoint_posedirs=posedirs.double(),
            parents=model.parents.clone(),
        )

    def points(self, pose: np.ndarray, transl: np.ndarray) -> np.ndarray:
        """Posed joints + keypoints T×(55+K)×3 (numpy in, numpy out)."""
        with torch.no_grad():
            pts, _ = forward(self.arrays, torch.as_tensor(pose).double(), torch.as_tensor(transl).double())
        return pts.numpy()
