"""`EventDataModule`: any registered dataset, one representation, for Lightning.

Per sample: the packed store's events -> training-only augmentation (``augment``: a list of
`spikestream.transforms` classes) -> crop -> sum-pooling -> the representation:

* ``representation='frames'``: ``[T, 2, H, W]`` float32 frames with SpikingJelly's semantics
  (`spikestream.transforms.functional.to_frames`): ``frames_number`` with ``split_by`` 'number'
  or 'time', or ``duration_us`` (fixed bins, variable T: batches are zero-padded after each
  sample's last frame, as SpikingJelly's ``pad_sequence_collate`` and Tonic's ``PadTensors``
  do, and carry ``lengths``);
* ``representation='tokens'``: Event2Vec tokens (`spikestream.transforms.ToEventTokens`:
  ``num_events`` sampled events, ``norm_t`` time normalisation, ``t_scale`` for 'dataset'),
  padded with -1 and a ``valid_mask`` (`pad_tokens`).

Batches are dicts: ``x`` (frames ``[N, T, 2, H, W]`` or a dict ``x, y, t, p, valid_mask``),
``y`` (int64), ``index`` (the samples' store indices), ``names`` and, for frames,
``lengths``.

Splits: a dataset's ``train``/``test`` stores; for datasets without one (ASL-DVS) the first
``train_fraction`` of each class in name order is train, the rest test (Event2Vec's split).
Validation (what picks the "best" checkpoint) is a seeded fraction of train
(``val_split=0.1``, the default: none of the datasets has a validation split), or the test split
itself (``val_split='test'``, what the seed projects do; then "best" is chosen on the test
set). ``val_repeats`` lists the validation set several times (Event2Vec draws a new random
token subset each time).

``prepare_data`` runs the dataset pipeline (download when ``download``, convert) on every rank
of every node: the dataset's lock files make the first process build and the others wait and
find it complete, which also works where nodes do or do not share a filesystem. ``setup``
opens the stores and mixes the global rank into the augmentation and token-sampling seeds (ranks
draw differently); numba runs ``torch.get_num_threads()`` threads per process (one per DDP rank's
share of the cores), one per DataLoader worker, and spawned workers reopen stores by path
(`PackedStore` pickles as its folder).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .. import datasets as ds
from .. import transforms as T
from ..errors import ConfigError, DatasetError, SpikestreamError
from ..models.checkpoint import frames_input, input_record, recording_stats
from ..transforms.functional import geometry as G
from ..transforms.functional import to_frames
from ..transforms.functional.tokens import NORM_T, SAMPLERS, pad_tokens

REPRESENTATIONS = ("frames", "tokens")


def _worker_init(worker_id: int) -> None:
    import numba

    numba.set_num_threads(1)
    # random transforms reseed per worker from [worker seed, their own seed]; their own seed
    # carries the global rank (EventDataModule.seed_for), so ranks and workers all differ


def _fraction_or_test(value: Any) -> float | str:
    """``--data.val_split``: 'test', or a fraction in (0, 1) (also given as a string, as a
    command line or a config's quoted value gives it)."""
    if isinstance(value, str) and value != "test":
        try:
            value = float(value)
        except ValueError:
            pass
    if value == "test" or (isinstance(value, (int, float)) and not isinstance(value, bool)
                           and 0 < value < 1):  # fmt: skip
        return value if value == "test" else float(value)
    raise ConfigError(f"--data.val_split {value!r}: 'test' or a fraction in (0, 1), e.g. 0.1")


def seed_for(seed: int, rank: int, stream: int) -> int:
    """A seed of its own for each (config seed, global rank, stream): DDP ranks, the
    augmentations and the token sampler never share a sequence of draws."""
    return int(np.random.SeedSequence([int(seed), int(rank), int(stream)]).generate_state(1)[0])


def build_transform(spec: Any, sensor_size: tuple[int, int], seed: int, i: int,
                    rank: int = 0) -> Callable:  # fmt: skip
    """One augmentation from ``{"class_path": "RandomFlipLR", "init_args": {...}}`` (a
    `spikestream.transforms` class name or a full import path) or a bare class name.
    ``sensor_size`` and ``seed`` are filled in where the class takes them and the config
    leaves them out (seed: `seed_for` ``(seed, rank, i)``, so two transforms or two ranks never
    share a stream; a seed the config gives is mixed with the rank the same way)."""
    where = f"--data.augment[{i}]"
    if isinstance(spec, str):
        spec = {"class_path": spec}
    if not isinstance(spec, dict) or "class_path" not in spec:
        raise ConfigError(f"{where}: give {{class_path: NAME, init_args: {{...}}}}, got {spec!r}")
    path = str(spec["class_path"])
    args = dict(spec.get("init_args") or {})
    module, _, name = path.rpartition(".")
    try:
        owner = importlib.import_module(module) if module else T
        cls = getattr(owner, name)
    except (ImportError, AttributeError):
        known = sorted(n for n in T.__all__ if n[0].isupper())
        raise ConfigError(f"{where}: no transform {path!r}; spikestream.transforms has "
                          f"{', '.join(known)}") from None  # fmt: skip
    names = {f.name for f in fields(cls)} if hasattr(cls, "__dataclass_fields__") else set()
    if "sensor_size" in names and "sensor_size" not in args:
        args["sensor_size"] = tuple(sensor_size)
    if "seed" in names:
        given = args.get("seed")
        args["seed"] = seed_for(seed if given is None else int(given), rank, i)
    for key in ("sensor_size", "size"):
        if isinstance(args.get(key), list):
            args[key] = tuple(args[key])
    try:
        return cls(**args)
    except (TypeError, SpikestreamError) as exc:
        raise ConfigError(f"{where} ({path}): {exc}") from None


class Samples(Dataset):
    """``indices`` of a store-backed dataset through ``pipeline``: items are
    ``(representation, label, index, name)``."""

    def __init__(self, base: ds.EventDataset, indices: np.ndarray, pipeline: Callable) -> None:
        self.base, self.indices, self.pipeline = base, np.asarray(indices, np.int64), pipeline

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[Any, int, int, str]:
        index = int(self.indices[i])
        events, label = self.base[index]
        return self.pipeline(events), int(label), index, str(self.base.store.names[index])


def collate(batch: list[tuple[Any, int, int, str]]) -> dict[str, Any]:
    """Frames stacked (zero-padded to the longest, with ``lengths``) or tokens padded."""
    if not batch:
        raise ConfigError("cannot collate an empty batch")
    reps = [b[0] for b in batch]
    out: dict[str, Any] = {
        "y": torch.tensor([b[1] for b in batch], dtype=torch.int64),
        "index": torch.tensor([b[2] for b in batch], dtype=torch.int64),
        "names": [b[3] for b in batch],
    }
    if isinstance(reps[0], dict):
        arrays, mask = pad_tokens(reps)
        out["x"] = {k: torch.from_numpy(v) for k, v in arrays.items()}
        out["x"]["valid_mask"] = torch.from_numpy(mask)
        return out
    lengths = [r.shape[0] for r in reps]
    longest = max(lengths)
    x = np.zeros((len(reps), longest, *reps[0].shape[1:]), dtype=np.float32)
    for i, r in enumerate(reps):
        x[i, : r.shape[0]] = r
    out["x"] = torch.from_numpy(x)
    out["lengths"] = torch.tensor(lengths, dtype=torch.int64)
    return out


class EventDataModule(pl.LightningDataModule):
    """Any registered dataset (``dataset``: 'ndigits', 'dvs128gesture', 'nmnist', 'asldvs',
    'pokerdvs', ...) with one representation (see the module docstring).

    ``root``: the dataset folder (default: ``$SPIKESTREAM_DATA/<Name>``); ``download``: fetch
    missing files. ``crop``: ``[x0, y0, w, h]`` in sensor pixels; ``pool``: integer
    sum-pooling after the crop. ``augment``: training-only transforms, each
    ``{class_path: RandomFlipLR, init_args: {p: 0.5}}`` (sensor_size and seed filled in).
    ``limit_samples``: use only the first n samples of each split (smoke runs).
    """

    def __init__(
        self,
        dataset: str,
        root: str | None = None,
        representation: str = "frames",
        frames_number: int | None = None,
        split_by: str = "number",
        duration_us: int | None = None,
        num_events: int = 1024,
        sampler: str = "random",
        norm_t: str = "sample",
        t_scale: float | None = None,
        crop: list[int] | None = None,
        pool: int = 1,
        augment: list[Any] | None = None,
        batch_size: int = 16,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        val_split: float | str = 0.1,
        train_fraction: float = 0.8,
        val_repeats: int = 1,
        predict_split: str = "test",
        drop_last: bool = False,
        download: bool = False,
        label_order: str = "dataset",
        limit_samples: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        try:
            self.dataset_cls = ds.get(dataset)
        except DatasetError as exc:
            raise DatasetError(f"--data.dataset: {exc}") from None
        if representation not in REPRESENTATIONS:
            raise ConfigError(f"--data.representation {representation!r}: use one of "
                              f"{REPRESENTATIONS}")  # fmt: skip
        if representation == "frames":
            if (frames_number is None) == (duration_us is None):
                raise ConfigError("frames need exactly one of --data.frames_number (with "
                                  "--data.split_by number|time) or --data.duration_us")  # fmt: skip
            if frames_number is not None and (frames_number < 1 or split_by not in
                                              ("number", "time")):  # fmt: skip
                raise ConfigError(
                    f"--data.frames_number {frames_number} / --data.split_by "
                    f"{split_by!r}: need >= 1 frames, split 'number' or 'time'"
                )
            if duration_us is not None and duration_us < 1:
                raise ConfigError(f"--data.duration_us must be >= 1 µs, got {duration_us}")
        else:
            if num_events < 1:
                raise ConfigError(f"--data.num_events must be >= 1, got {num_events}")
            if sampler not in SAMPLERS:
                raise ConfigError(f"--data.sampler {sampler!r}: use one of {SAMPLERS}")
            if norm_t not in NORM_T:
                raise ConfigError(f"--data.norm_t {norm_t!r}: use one of {NORM_T}")
            if norm_t == "dataset" and not (t_scale and t_scale > 0):
                raise ConfigError("--data.norm_t dataset needs --data.t_scale > 0 (µs, e.g. the "
                                  "longest training sample: 521217 for ASL-DVS)")  # fmt: skip
        if pool < 1:
            raise ConfigError(f"--data.pool must be an integer >= 1, got {pool}")
        if batch_size < 1 or num_workers < 0 or val_repeats < 1:
            raise ConfigError("--data.batch_size and --data.val_repeats must be >= 1, "
                              "--data.num_workers >= 0")  # fmt: skip
        val_split = _fraction_or_test(val_split)
        self.hparams["val_split"] = val_split
        if predict_split not in ("train", "val", "test"):
            raise ConfigError(f"--data.predict_split {predict_split!r}: train, val or test")
        if label_order not in ("dataset", "spikingjelly"):
            raise ConfigError(f"--data.label_order {label_order!r}: dataset or spikingjelly")
        self.root = root
        w, h = self.dataset_cls.sensor_size
        self.sensor_size: tuple[int, int] = (int(w), int(h))
        self.input_size = self._input_size(crop, pool)
        self.augment_specs = list(augment or [])
        self.rank = 0  # the global rank the random streams are drawn for (set in setup)
        self.augment = self._build_augment()
        self.classes: list[str] = []
        self.splits: dict[str, Samples] = {}
        # the training set's mean duration and event count, for the record (set with the splits)
        self.stats: dict[str, float | None] = {}

    @property
    def _hp(self) -> Any:
        return self.hparams

    def _build_augment(self) -> list[Callable]:
        hp: Any = self.hparams
        return [build_transform(s, self.sensor_size, hp.seed, i, self.rank)
                for i, s in enumerate(self.augment_specs)]  # fmt: skip

    def use_rank(self, rank: int) -> None:
        """Draw augmentations and token samples for global rank ``rank`` (`setup` calls it
        with the trainer's; every rank otherwise repeats rank 0's draws)."""
        if rank == self.rank:
            return
        self.rank = int(rank)
        self.augment = self._build_augment()
        for name, split in self.splits.items():
            split.pipeline = self._pipeline(name == "train")

    # -- geometry ---------------------------------------------------------------------------

    def _input_size(self, crop: Sequence[int] | None, pool: int) -> tuple[int, int]:
        # the one crop + ceil-pool definition training, live and show share
        G.check_box(crop, self.sensor_size, pool, what="--data.crop")
        return G.input_size(self.sensor_size, crop, pool)

    def _pipeline(self, train: bool) -> Callable[[np.ndarray], Any]:
        hp: Any = self.hparams
        steps: list[Callable] = list(self.augment) if train else []
        steps.append(_Geometry(hp.crop, int(hp.pool)))
        if hp.representation == "frames":
            steps.append(_Frames(self.input_size, hp.frames_number, hp.split_by, hp.duration_us))
        else:
            steps.append(
                T.ToEventTokens(
                    sensor_size=self.input_size,
                    n_tokens=hp.num_events,
                    sampler=hp.sampler,
                    norm_t=hp.norm_t,
                    t_scale=hp.t_scale,
                    # a stream of its own, apart from the augmentations' (0, 1, ...)
                    seed=seed_for(hp.seed, self.rank, 1_000_000 + (0 if train else 1)),
                )
            )
        return _Chain(steps)

    def input_record(self) -> dict[str, Any]:
        """The checkpoint's ``input`` dict (`spikestream.models.checkpoint`)."""
        hp: Any = self.hparams
        crop = None if hp.crop is None else [int(c) for c in hp.crop]
        span, count = self.stats.get("mean_duration_us"), self.stats.get("mean_events")
        if hp.representation == "tokens":
            return input_record(
                "tokens", sensor_size=list(self.sensor_size), num_events=hp.num_events,
                sampler=hp.sampler, grid=None, norm_t=hp.norm_t, t_scale=hp.t_scale, crop=crop,
                pool=int(hp.pool), window_us=span,
            )  # fmt: skip
        return frames_input(
            self.sensor_size, frames_number=hp.frames_number, split_by=hp.split_by,
            duration_us=hp.duration_us, crop=crop, pool=int(hp.pool), mean_duration_us=span,
            mean_events=count,
        )  # fmt: skip

    # -- Lightning hooks --------------------------------------------------------------------

    def prepare_data(self) -> None:
        try:
            self.dataset_cls.prepare(self.root, download=self._hp.download)
        except DatasetError as exc:
            raise DatasetError(f"--data.root / --data.dataset: {exc}") from None

    def _open(self, train: bool | None) -> ds.EventDataset:
        try:
            return self.dataset_cls(self.root, train=train, label_order=self._hp.label_order)
        except DatasetError as exc:
            raise DatasetError(f"--data.root / --data.dataset: {exc}") from None

    def setup(self, stage: str | None = None) -> None:
        import numba

        # numba's kernels (binning, sampling) take this rank's share of the cores, as torch
        # does under DDP (OMP_NUM_THREADS / cores per process), not every core per rank
        most = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        numba.set_num_threads(max(1, min(torch.get_num_threads(), most)))
        if not self.splits:
            self._build_splits()
        if self.trainer is not None:
            self.use_rank(self.trainer.global_rank)
        module: Any = self.trainer.lightning_module if self.trainer is not None else None
        if module is not None and hasattr(module, "attach_data"):
            self.attach(module)

    def attach(self, module: Any) -> None:
        """Hand the classes and the input record to ``module`` and check that the data fits
        it (once per module): what `setup` does, and what the CLI does before the trainer
        starts (Lightning creates the run's log folder before ``setup``)."""
        if not self.splits:
            self.prepare_data()
            self._build_splits()
        module.attach_data(self.classes, self.input_record())
        if getattr(self, "_checked", None) is not module:
            self.check_model(module)
            self._checked = module

    def _build_splits(self) -> None:
        hp: Any = self.hparams
        if "all" in self.dataset_cls.splits:
            whole = self._open(None)
            tr_idx, te_idx = ds.split_per_class(whole.targets, hp.train_fraction)
            train_base = test_base = whole
        else:
            train_base, test_base = self._open(True), self._open(False)
            tr_idx, te_idx = np.arange(len(train_base)), np.arange(len(test_base))
        va_base, va_idx = test_base, te_idx
        if hp.val_split != "test":
            rng = np.random.default_rng(hp.seed)
            order = rng.permutation(tr_idx)
            n_val = max(1, round(len(order) * float(hp.val_split)))
            va_base, va_idx, tr_idx = train_base, np.sort(order[:n_val]), np.sort(order[n_val:])
        if hp.limit_samples is not None:
            n = int(hp.limit_samples)
            tr_idx, va_idx, te_idx = tr_idx[:n], va_idx[:n], te_idx[:n]
        if not len(tr_idx) or not len(va_idx):
            raise DatasetError(f"{self.dataset_cls.name}: an empty training or validation split "
                               f"under {train_base.root}")  # fmt: skip
        va_idx = np.tile(va_idx, hp.val_repeats)
        self.classes = list(train_base.class_names)
        self.splits = {
            "train": Samples(train_base, tr_idx, self._pipeline(True)),
            "val": Samples(va_base, va_idx, self._pipeline(False)),
            "test": Samples(test_base, te_idx, self._pipeline(False)),
        }
        self._training_stats(train_base, tr_idx)

    def _training_stats(self, base: ds.EventDataset, idx: np.ndarray) -> None:
        """Mean duration and event count of the training samples (before augmentation and
        crop), what a live engine needs to bin as training did: frames record the mean bin
        (``step_us``) and, split by number, the mean events per frame; tokens the mean window
        their ``num_events`` are drawn from (``window_us``)."""
        store = base.store
        span, count = recording_stats(store.events["t"], store.offsets, idx)
        self.stats = {"mean_duration_us": span, "mean_events": count}

    def check_model(self, module: Any) -> None:
        """Run one validation sample through the model: a `ConfigError` naming the options to
        change when the data's shape or class count does not fit it (before any training)."""
        sample = self.splits["val"][0]
        self._check_train_sample(sample[0])
        batch = collate([sample])
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                out = module(batch["x"])
        except (SpikestreamError, RuntimeError, TypeError, ValueError) as exc:
            what = " ".join(str(exc).split())[:300]
            raise ConfigError(
                f"the data ({self._describe()}) does not fit model {module.model_name!r}: {what}; "
                f"make --model.model_args (e.g. input_size, in_channels, sensor_size) and --data "
                f"(frames_number, crop, pool, representation) agree"
            ) from None
        finally:
            module.train(was_training)
        if out.shape[-1] != len(self.classes):
            raise ConfigError(
                f"model {module.model_name!r} gives {out.shape[-1]} scores, dataset "
                f"{self.dataset_cls.name} has {len(self.classes)} classes; set the class count "
                f"in --model.model_args (classes or n_classes: {len(self.classes)})"
            )

    def _check_train_sample(self, val_rep: Any) -> None:
        """The first training sample through the training pipeline (augmentations included):
        a `ConfigError` unless it works and gives what validation gives (the same frame size or
        token fields)."""
        try:
            rep = self.splits["train"][0][0]
        except (SpikestreamError, RuntimeError, TypeError, ValueError, IndexError,
                KeyError) as exc:  # fmt: skip
            what = " ".join(str(exc).split())[:300]
            raise ConfigError(f"--data.augment {self.augment_specs}: the training pipeline "
                              f"fails on {self.dataset_cls.name}'s first training sample: "
                              f"{what}") from None  # fmt: skip
        if isinstance(val_rep, dict):
            ok = isinstance(rep, dict) and sorted(rep) == sorted(val_rep)
            got, want = (sorted(rep) if isinstance(rep, dict) else type(rep)), sorted(val_rep)
        else:
            # frames: T may vary (duration bins), the frame's shape may not
            ok = isinstance(rep, np.ndarray) and rep.shape[1:] == val_rep.shape[1:]
            got, want = getattr(rep, "shape", type(rep)), val_rep.shape
        if not ok:
            raise ConfigError(
                f"--data.augment {self.augment_specs}: training samples come out as {got}, "
                f"validation samples as {want}; an augmentation must keep the sensor size "
                "(crop and pool with --data.crop / --data.pool, which apply to every split)"
            )

    def _describe(self) -> str:
        hp: Any = self.hparams
        w, h = self.input_size
        if hp.representation == "tokens":
            return f"{self.dataset_cls.name} tokens of {hp.num_events} events on {w}x{h}"
        bins = f"T={hp.frames_number}" if hp.frames_number else f"{hp.duration_us} µs bins"
        return f"{self.dataset_cls.name} frames 2x{h}x{w}, {bins}"

    def _loader(self, split: str, train: bool) -> DataLoader:
        hp: Any = self.hparams
        if not self.splits:
            self.setup()
        workers = int(hp.num_workers)
        return DataLoader(
            self.splits[split],
            batch_size=hp.batch_size if train else (hp.eval_batch_size or hp.batch_size),
            shuffle=train,
            drop_last=train and hp.drop_last,
            num_workers=workers,
            collate_fn=collate,
            worker_init_fn=_worker_init if workers else None,
            persistent_workers=workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self._hp.predict_split, False)


# The pipeline's steps are small module-level classes, so spawned DataLoader workers can
# pickle them (a closure or a bound method of the data module could not be, or would drag the
# trainer along).


class _Chain:
    """Functions applied in turn."""

    def __init__(self, steps: list[Callable]) -> None:
        self.steps = steps

    def __call__(self, x: Any) -> Any:
        for step in self.steps:
            x = step(x)
        return x


class _Geometry:
    """Crop ``[x0, y0, w, h]`` (or None), then sum-pool by ``pool``
    (`spikestream.transforms.functional.geometry.crop_pool_events`, as a picklable step)."""

    def __init__(self, crop: Sequence[int] | None, pool: int) -> None:
        self.crop = None if crop is None else tuple(int(c) for c in crop)
        self.pool = int(pool)

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return G.crop_pool_events(events, self.crop, self.pool)


class _Frames:
    def __init__(self, size: tuple[int, int], n: int | None, split_by: str, duration: int | None):
        self.size, self.n, self.split_by, self.duration = size, n, split_by, duration

    def __call__(self, events: np.ndarray) -> np.ndarray:
        return to_frames(events, self.size, n_frames=self.n, split_by=self.split_by,
                         duration=self.duration)  # fmt: skip
