"""Beyond one machine: shards without a cluster manager, and a Ray engine.

Every item's bytes depend only on (recipe, seed, item index), so a build or an
evaluation can be split anywhere and still give the same bytes:

- :func:`build_shard` / :func:`evaluate_shard` run part ``K/N`` of the work (a Slurm
  array task, say) and :func:`merge_sets` / :func:`merge_results` join the parts;
- :func:`build_on_ray` / :func:`evaluate_on_ray` run on a Ray cluster
  (``pip install 'foolbox-lite[ray]'``; Ray is imported only when they are called).
"""

from __future__ import annotations

from .eval_shards import evaluate_shard, merge_results
from .merge import merge_sets
from .ray_build import build_on_ray
from .ray_eval import evaluate_on_ray
from .shards import build_shard, parse_shard

__all__ = ["build_on_ray", "build_shard", "evaluate_on_ray", "evaluate_shard", "merge_results", "merge_sets", "parse_shard"]
