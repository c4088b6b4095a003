"""Data-parallel training over MLX's distributed layer (`mx.distributed`), started by `mlx.launch`.

Every process holds the whole model and data and runs the same schedule of global batches; each
trains on its shard of every batch (`shard`: every size-th example, so a length-bucketed batch splits
into shards of similar length). A process's loss is its shard's summed cross-entropy divided by the
global batch's target count / size, so `nn.average_gradients` (mlx-lm's trainer's all-reduce) yields
exactly the gradient of the global batch's per-token mean: one process with the same global batch
trains the same adapter. Rank 0 alone reads and writes the run directory (checkpoints, metrics,
adapter) and sends what it restored to the others, so a run on several machines needs the run
directory on the first one only. Outside `mlx.launch` the group has one process and nothing changes.
"""

from __future__ import annotations

from typing import Any, Sequence, TypeVar, cast

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_unflatten

from ..runtime import share_cores

T = TypeVar("T")


class Group:
    """This process's place in the group `mlx.launch` started (size 1 without it)."""

    def __init__(self) -> None:
        self.world = mx.distributed.init()
        self.rank, self.size = self.world.rank(), self.world.size()
        self.blas_threads = share_cores(self.size)  # several processes on one machine: split its cores

    @property
    def root(self) -> bool:
        return self.rank == 0

    def shard(self, items: Sequence[T]) -> list[T]:
        return list(items[self.rank :: self.size])

    def sum(self, x: mx.array) -> mx.array:
        return x if self.size == 1 else mx.distributed.all_sum(x, group=self.world, stream=mx.cpu)

    def average(self, grads: Any) -> Any:
        return grads if self.size == 1 else nn.average_gradients(grads, group=self.world)

    def broadcast(self, tree: Any) -> Any:
        """Rank 0's values of `tree` (every process passes a tree of the same keys and shapes, in any
        order). One all-reduce per array, in sorted key order, each finished before the next: the
        processes must issue the same all-reduces in the same order."""
        if self.size == 1:
            return tree
        # tree_flatten returns a list of (key, array) unless given a destination dict
        flat = sorted(cast(list[tuple[str, mx.array]], tree_flatten(tree)), key=lambda kv: kv[0])
        mx.eval([x for _, x in flat])
        out = []
        for k, x in flat:
            y = self.sum(x if self.root else mx.zeros_like(x))
            mx.eval(y)
            out.append((k, y))
        return tree_unflatten(out)

    def share_state(self, model: nn.Module, optimizer: Any, step: int) -> int:
        """Give every process rank 0's trainable weights, optimizer state and step (after rank 0 restored
        a checkpoint or loaded resume_adapter_file). Returns the step."""
        if self.size == 1:
            return step
        optimizer.init(model.trainable_parameters())  # the same state structure everywhere
        model.update(self.broadcast(model.trainable_parameters()))
        optimizer.state = self.broadcast(optimizer.state)
        return int(self.broadcast({"step": mx.array(step)})["step"].item())


def local_launch(n: int, argv: Sequence[str], *, port: int | None = None) -> list[str]:
    """The `mlx.launch` command line that runs `argv` as `n` processes on this machine over the ring
    backend (127.0.0.1; ports `port`..`port+n-1`, free ones when not given)."""
    import shutil
    import sys
    from pathlib import Path

    launcher = Path(sys.executable).with_name("mlx.launch")
    cmd = [str(launcher)] if launcher.exists() else [shutil.which("mlx.launch") or "mlx.launch"]
    return [*cmd, "--backend", "ring", "-n", str(n), "--starting-port", str(port or free_ports(n)), "--", *argv]


def free_ports(n: int) -> int:
    """The first of `n` consecutive free TCP ports on 127.0.0.1."""
    import socket

    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + n > 65535:
            continue
        try:
            socks = []
            for p in range(first, first + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise OSError(f"no {n} consecutive free ports on 127.0.0.1")
