"""The warps' centred 3x3 matrices for a whole batch at once, ``(B, 3, 3)`` float64.

Batched twins of :func:`~foolbox_lite.operators.homography.rotation_matrix`,
:func:`~foolbox_lite.operators.homography.tilt_matrix`,
:func:`~foolbox_lite.operators.homography.scale_translate_matrix` and
:func:`~foolbox_lite.operators.homography.flip_matrix` (tested equal to them): what
:meth:`~foolbox_lite.operators.base.Operator.sample_batch` records, one column per batch.
"""

from __future__ import annotations

import torch

__all__ = ["flip_matrices", "rotation_matrices", "scale_translate_matrices", "tilt_matrices"]


def _eye(b: int) -> torch.Tensor:
    return torch.eye(3, dtype=torch.float64).repeat(b, 1, 1)


def rotation_matrices(angle: torch.Tensor) -> torch.Tensor:
    """In-plane rotations by ``angle`` ``(B,)`` degrees, counter-clockwise on screen (y points down)."""
    a = torch.deg2rad(angle.to(torch.float64))
    c, s = torch.cos(a), torch.sin(a)
    m = _eye(len(a))
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, s, -s, c
    return m


def tilt_matrices(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor, focal: torch.Tensor) -> torch.Tensor:
    """``K0 [r1 r2 e3] K0^-1`` with ``R = Rz(roll) Ry(yaw) Rx(pitch)`` (degrees) and focal lengths in px, normalised to ``h[2, 2] = 1``."""
    p, y, r = (torch.deg2rad(v.to(torch.float64)) for v in (pitch, yaw, roll))
    b = len(p)
    zero, one = torch.zeros(b, dtype=torch.float64), torch.ones(b, dtype=torch.float64)

    def mat(rows: list[list[torch.Tensor]]) -> torch.Tensor:
        return torch.stack([torch.stack(row, -1) for row in rows], -2)

    rx = mat([[one, zero, zero], [zero, torch.cos(p), torch.sin(p)], [zero, -torch.sin(p), torch.cos(p)]])
    ry = mat([[torch.cos(y), zero, -torch.sin(y)], [zero, one, zero], [torch.sin(y), zero, torch.cos(y)]])
    rz = mat([[torch.cos(r), torch.sin(r), zero], [-torch.sin(r), torch.cos(r), zero], [zero, zero, one]])
    m = rz @ ry @ rx
    m[:, :, 2] = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    f = focal.to(torch.float64)
    k = torch.diag_embed(torch.stack([f, f, one], -1))
    kinv = torch.diag_embed(torch.stack([1.0 / f, 1.0 / f, one], -1))
    h = k @ m @ kinv
    return h / h[:, 2:3, 2:3]


def scale_translate_matrices(scale: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    """Scale about the centre by ``scale`` then move by ``(tx, ty)`` px, all ``(B,)``."""
    m = _eye(len(scale))
    m[:, 0, 0], m[:, 1, 1], m[:, 0, 2], m[:, 1, 2] = scale, scale, tx, ty
    return m


def flip_matrices(horizontal: torch.Tensor, vertical: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Mirrors about the image centre (full pixel matrices, not centred) for boolean ``(B,)`` flags."""
    m = _eye(len(horizontal))
    m[:, 0, 0] = torch.where(horizontal, -1.0, 1.0)
    m[:, 1, 1] = torch.where(vertical, -1.0, 1.0)
    m[:, 0, 2] = torch.where(horizontal, width - 1.0, 0.0)
    m[:, 1, 2] = torch.where(vertical, height - 1.0, 0.0)
    return m
