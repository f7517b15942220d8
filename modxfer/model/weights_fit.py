"""Do an artifact's weight files fit the backbone they will be loaded into? Judged from safetensors headers only.

Checksums prove the bytes are the publisher's, not that they load: a zoo entry whose adapter was cut for another
hidden size, or whose configs disagree with its card, installs cleanly and only fails later, inside `adapters`, with
``RuntimeError: size mismatch``. So install compares every tensor's name, dtype and shape with what `adapters`
itself builds for the card's ``adapter_config``, the task's head and the fusion config on a meta-device copy of the
backbone (no weights allocated, well under a second): the library's own rules (reduction factor, ``leave_out``,
LoRA ranks, heads) decide, not a re-implementation of them. No tensor data is read and nothing is unpickled.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..store.cards import show
from ..errors import DataError, ModxferError
from ..io import read_json

_FLOATS = ("F16", "BF16", "F32", "F64")  # `adapters` copies any float tensor into its fp32 parameters
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_FIX = "the weights do not belong to this card; re-publish the entry from the folder `modxfer train` wrote"


def header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Tensor name -> (dtype, shape), from the file's header (the tensors themselves are not read)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k: (f.get_slice(k).get_dtype(), tuple(f.get_slice(k).get_shape())) for k in f.keys()}


def check_fits(folder: Path, card: dict, config, dep_cards: list[dict], where: str) -> None:
    """Raise ``DataError`` unless every weight file under ``folder`` loads into a backbone of ``config``.

    ``card`` is the artifact's checked card; ``dep_cards`` the cards of what it stacks on, in order (their adapter
    configs decide where a fusion layer sits). Called after the files' checksums and headers were verified.
    """
    try:
        model = _skeleton(config)
    except Exception as e:  # noqa: BLE001 - a backbone config `adapters` cannot build is the backbone's problem
        raise ModxferError(f"cannot build the backbone's adapter model to check {where} against it "
                           f"({type(e).__name__}: {_first_line(e)})", "check the backbone (--base)") from None
    hidden = int(config.hidden_size)
    adapter = _declared_name(folder, "adapter/adapter_config.json", where)
    cfg = _adapter_config(card["adapter_config"], "the card's adapter_config", where)
    file_cfg = _adapter_config(read_json(folder / "adapter/adapter_config.json", _FIX).get("config"),
                               "adapter/adapter_config.json", where)
    _same_config(cfg.to_dict(), file_cfg.to_dict(), where)
    _build(lambda: model.add_adapter(adapter, config=cfg), "the card's adapter_config", where)
    from adapters.loading import AdapterFusionLoader, AdapterLoader, PredictionHeadLoader

    _compare(folder, "adapter/adapter.safetensors", _expected(model, AdapterLoader(model).filter_func(adapter)),
             f"a {card['adapter_config'].get('name', 'adapter')} adapter (the card's adapter_config) on a "
             f"{config.num_hidden_layers}-layer, hidden size {hidden} backbone", where)
    head = _declared_name(folder, "head/head_config.json", where)
    _check_head(model, folder, card, head, where)
    _compare(folder, "head/model_head.safetensors", _expected(model, PredictionHeadLoader(model).filter_func(head)),
             f"the {card['task']} head on a hidden size {hidden} backbone", where)
    if card["kind"] == "fusion":
        fusion = _check_fusion(model, folder, dep_cards, where)
        _compare(folder, "fusion/model_adapter_fusion.safetensors",
                 _expected(model, AdapterFusionLoader(model).filter_func(fusion)),
                 f"a fusion of {len(dep_cards)} adapters on a hidden size {hidden} backbone", where)


def _skeleton(config):
    import torch
    from adapters import AutoAdapterModel

    from .heads import MEAN_POOLED_HEADS

    # A fresh config: `adapters` records heads and adapters in the config object it builds on, and the backbone's
    # is shared (a second skeleton would rebuild the first one's heads).
    raw = {k: v for k, v in config.to_dict().items() if k not in ("prediction_heads", "adapters")}
    with torch.device("meta"):
        model = AutoAdapterModel.from_config(type(config).from_dict(raw))
    for name, head in MEAN_POOLED_HEADS.items():
        model.register_custom_head(name, head)
    return model


def _first_line(e: BaseException) -> str:
    return str(e).splitlines()[0][:160] if str(e) else ""


def _build(fn, what: str, where: str):
    try:
        return fn()
    except ModxferError:
        raise
    except Exception as e:  # noqa: BLE001 - `adapters` raises bare ValueError/KeyError/TypeError for bad configs
        raise DataError(f"{where}: {what} cannot be built on this backbone ({type(e).__name__}: {_first_line(e)})",
                        _FIX) from None


def _declared_name(folder: Path, rel: str, where: str) -> str:
    """The name the weights in a config's folder are saved under (`adapters` renames it when loading)."""
    obj = read_json(folder / rel, _FIX)
    name = obj.get("name") if isinstance(obj, dict) else None
    parts = name.split(",") if isinstance(name, str) else [None]
    if not all(isinstance(p, str) and _MODULE_NAME.match(p) for p in parts):
        raise DataError(f"{where}: {rel} has name {show(name)}, not a module name (letters, digits, '_')", _FIX)
    return name


def _adapter_config(raw, what: str, where: str):
    from adapters import AdapterConfig

    if not isinstance(raw, dict):
        raise DataError(f"{where}: {what} is {show(raw)}, not a JSON object", _FIX)
    # The card adds the config's registry name ("seq_bn"); `adapters` keys the class by "architecture".
    return _build(lambda: AdapterConfig.load({k: v for k, v in raw.items() if k != "name"}), what, where)


def _same_config(card_cfg: dict, file_cfg: dict, where: str) -> None:
    """The config `adapters` will build from the file is the one the card (and so the key) describes."""
    for k in sorted(set(card_cfg) | set(file_cfg), key=str):
        if card_cfg.get(k) != file_cfg.get(k):
            raise DataError(f"{where}: adapter/adapter_config.json says {k} = {show(file_cfg.get(k))} but the card's "
                            f"adapter_config says {k} = {show(card_cfg.get(k))}", _FIX)


def _check_head(model, folder: Path, card: dict, head: str, where: str) -> None:
    """The head the task needs (as training adds it), and the head config file describing that same head."""
    from .heads import add_head
    from ..tasks import get_task

    _build(lambda: add_head(model, get_task(card["task"]), head), f"the {card['task']} head", where)
    want = {k: tuple(v.shape) for k, v in model.heads[head].state_dict().items()}
    raw = read_json(folder / "head/head_config.json", _FIX).get("config")
    if not isinstance(raw, dict):
        raise DataError(f"{where}: head/head_config.json has config {show(raw)}, not a JSON object", _FIX)
    probe = "modxfer_head_probe"
    _build(lambda: model.add_prediction_head_from_config(probe, raw, set_active=False), "head/head_config.json", where)
    got = {k: tuple(v.shape) for k, v in model.heads[probe].state_dict().items()}
    model.delete_head(probe)
    if got != want:
        diff = next((k for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)), "?")
        raise DataError(f"{where}: head/head_config.json describes a head whose {diff} is "
                        f"{_shape(got.get(diff))}, but a {card['task']} head has {_shape(want.get(diff))}", _FIX)


def _check_fusion(model, folder: Path, dep_cards: list[dict], where: str) -> str:
    from adapters import AdapterFusionConfig, Fuse

    rel = "fusion/adapter_fusion_config.json"
    name = _declared_name(folder, rel, where)
    names = name.split(",")
    if len(names) != len(dep_cards) or len(set(names)) != len(names):
        raise DataError(f"{where}: {rel} fuses {len(names)} adapter(s) ({name}), but the card stacks on "
                        f"{len(dep_cards)}", _FIX)
    for n, dep in zip(names, dep_cards):
        cfg = _adapter_config(dep["adapter_config"], f"the adapter_config of {dep['composition']}", where)
        _build(lambda n=n, cfg=cfg: model.add_adapter(n, config=cfg), f"the fused adapter {dep['composition']}", where)
    raw = read_json(folder / rel, _FIX).get("config")
    if not isinstance(raw, dict):
        raise DataError(f"{where}: {rel} has config {show(raw)}, not a JSON object", _FIX)
    fcfg = _build(lambda: AdapterFusionConfig.load(raw), rel, where)
    _build(lambda: model.add_adapter_fusion(Fuse(*names), config=fcfg, set_active=False), rel, where)
    return name


def _expected(model, keep) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if keep(k)}


def _shape(shape) -> str:
    return "absent" if shape is None else "[" + ", ".join(map(str, shape)) + "]"


def _compare(folder: Path, rel: str, want: dict[str, tuple[int, ...]], what: str, where: str) -> None:
    have = header(folder / rel)
    for k, (dtype, shape) in sorted(have.items()):
        if k not in want:
            raise DataError(f"{where}: {rel} holds tensor {show(k, 160)}, which {what} does not have "
                            f"(it has {len(want)} tensors, e.g. {show(next(iter(sorted(want)), ''), 160)})", _FIX)
        if dtype not in _FLOATS:
            raise DataError(f"{where}: {rel}: tensor {k} is {dtype}, not a float type ({', '.join(_FLOATS)})", _FIX)
        if shape != want[k]:
            raise DataError(f"{where}: {rel}: tensor {k} has shape {_shape(shape)}, but {what} needs "
                            f"{_shape(want[k])}", _FIX)
    missing = sorted(set(want) - set(have))
    if missing:
        raise DataError(f"{where}: {rel} lacks {len(missing)} tensor(s) that {what} has, e.g. {missing[0]}", _FIX)
