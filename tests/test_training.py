"""Every composition kind on a tiny random backbone: what trains, what is frozen, what is saved and reloaded."""

import json

import pytest
import torch
from click.testing import CliRunner

from modxfer.store import artifacts as art
from modxfer.composition import Composition
from modxfer.errors import AdapterMismatchError, ConfigError, ModxferError
from modxfer.evaluation.evaluator import Evaluator
from modxfer.model.inference import predict
from modxfer.tasks import get_task
from modxfer.model.host import host_for
from modxfer.training import TrainSettings, _Session, _fit, TrainingPlan, train, train_key
from modxfer_cli.main import cli

FAST = dict(examples=48, batch_size=16, epochs=1.0)


@pytest.fixture()
def store(tmp_path):
    return tmp_path / "store"


def _tensors(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_target_only_adapter_trains_only_adapter_and_head(tiny_base, store):
    a = train("mnli", base=tiny_base, store=store, progress=False, **FAST)
    assert a.kind == "target" and (a.path / "adapter" / "adapter.safetensors").is_file()
    assert (a.path / "head" / "model_head.safetensors").is_file()
    assert not list(a.path.rglob("*.bin")) and not list(a.path.rglob("*.pt"))  # no pickle anywhere
    card = a.card
    assert card["base"]["hidden_size"] == 32 and card["data"]["examples"] == 48
    assert card["adapter_config"]["name"] == "seq_bn" and card["steps"] == 3 and card["seed"] == 0
    assert 0 < card["trainable_parameters"] < 5000  # bottleneck + head, not the 40k-parameter encoder
    assert "accuracy" in card["metrics"]["validation"]
    assert set(card["library_versions"]) >= {"torch", "transformers", "adapters", "modxfer"}


def test_same_request_is_reused_not_retrained(tiny_base, store):
    a = train("mnli", base=tiny_base, store=store, progress=False, **FAST)
    stamp = (a.path / "card.json").stat().st_mtime_ns
    b = train("mnli", base=tiny_base, store=store, progress=False, **FAST)
    assert b.path == a.path and (b.path / "card.json").stat().st_mtime_ns == stamp
    assert train_key("mnli", base=tiny_base, **FAST) == a.key
    assert train_key("mnli", base=tiny_base, **{**FAST, "seed": 1}) != a.key


def test_stack_freezes_the_intermediate(tiny_base, store):
    inter = train("mnli", base=tiny_base, store=store, progress=False, **FAST)
    before = _tensors(inter.path / "adapter" / "adapter.safetensors")
    tgt = train("xnli", on=["mnli"], base=tiny_base, store=store, progress=False, **FAST)
    after = _tensors(inter.path / "adapter" / "adapter.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert tgt.card["depends_on"] == [inter.key] and tgt.card["composition"] == "mnli>xnli"
    plan = TrainingPlan(Composition.parse("mnli>xnli"), TrainSettings(base=tiny_base, **FAST), None, store)
    session = _Session(plan, [inter])
    model, head, n = session.model, session.head, session.trainable
    frozen = [n_ for n_, p in model.named_parameters() if inter.adapter_name in n_ and p.requires_grad]
    assert frozen == [] and n == tgt.card["trainable_parameters"]
    assert str(model.active_adapters) == f"Stack[{inter.adapter_name}, {head}]"
    session.discard()


def test_fusion_trains_fusion_layer_and_target(tiny_base, store):
    fused = train("xnli", on=["mnli", "snli"], fuse=True, base=tiny_base, store=store, progress=False, **FAST)
    stacked = train("xnli", on=["mnli"], base=tiny_base, store=store, progress=False, **FAST)
    assert (fused.path / "fusion" / "model_adapter_fusion.safetensors").is_file()
    assert fused.card["trainable_parameters"] > stacked.card["trainable_parameters"]
    assert len(fused.card["depends_on"]) == 2


def test_full_fine_tuning_stilts(tiny_base, store):
    stilts = train("xnli", on=["mnli"], full=True, base=tiny_base, store=store, progress=False, **FAST)
    first = art.find(store, "mnli", stilts.card["depends_on"][0])
    assert first.kind == "full" and stilts.card["composition"] == "full:mnli>xnli"
    enc0, enc1 = _tensors(first.path / "model.safetensors"), _tensors(stilts.path / "model.safetensors")
    key = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(enc0[key], enc1[key])  # the encoder itself moved during target training
    assert stilts.card["trainable_parameters"] > 40000


def test_full_fine_tuning_with_frozen_word_embeddings(tiny_base, store):
    plain = train("xnli", on=["mnli"], full=True, base=tiny_base, store=store, progress=False, **FAST)
    frozen = train("xnli", on=["mnli"], full=True, base=tiny_base, store=store, progress=False,
                   freeze_embeddings=True, **FAST)
    assert frozen.key != plain.key and frozen.card["frozen"] == ["word_embeddings"] and "frozen" not in plain.card
    assert art.key_of_card(frozen.card) == frozen.key and art.key_of_card(plain.card) == plain.key
    first = art.find(store, "mnli", frozen.card["depends_on"][0])
    assert first.card["frozen"] == ["word_embeddings"]  # the STILTs intermediate is fine-tuned the same way
    from modxfer.model.modeling import backbone, fresh_model

    before = fresh_model(backbone(tiny_base)).state_dict()
    words, query = "bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.attention.self.query.weight"
    start = before[words]
    for a in (first, frozen):
        enc = _tensors(a.path / "model.safetensors")
        assert torch.equal(enc[words], start)  # not one row moved
        assert not torch.equal(enc[query], before[query])  # while the layers above did
    assert frozen.card["trainable_parameters"] == plain.card["trainable_parameters"] - start.numel()
    # evaluation finds each by the same settings, and says how to find the other
    ev, stilts = Evaluator(tiny_base, store=store), Composition.parse("full:mnli>xnli")
    assert ev.artifacts_for(stilts, TrainSettings(base=tiny_base, freeze_embeddings=True, **FAST))[-1].key == frozen.key
    assert ev.artifacts_for(stilts, TrainSettings(base=tiny_base, **FAST))[-1].key == plain.key
    with pytest.raises(ModxferError, match="word embeddings frozen") as e:
        ev.artifacts_for(stilts, TrainSettings(base=tiny_base, freeze_embeddings=True, **{**FAST, "seed": 1}))
    assert "--freeze-embeddings" in e.value.fix
    # adapters keep the whole encoder frozen anyway: the setting changes neither their key nor their card
    assert train_key("mnli", base=tiny_base, store=store, freeze_embeddings=True, **FAST) == \
        train_key("mnli", base=tiny_base, store=store, **FAST)
    with pytest.raises(ConfigError, match="true or false"):
        TrainSettings(freeze_embeddings="yes")
    r = CliRunner().invoke(cli, ["train", "mnli", "--freeze-embeddings", "--base", tiny_base, "--store", str(store)])
    assert r.exit_code == 2 and "--freeze-embeddings applies to full fine-tuning only" in r.output
    with pytest.raises(ConfigError, match="applies to full fine-tuning only"):  # the API says the same
        train("mnli", base=tiny_base, store=store, progress=False, freeze_embeddings=True, **FAST)


def test_fp32_training_is_deterministic(tiny_base, tmp_path):
    a = train("mnli", base=tiny_base, store=tmp_path / "a", progress=False, precision="fp32", **FAST)
    b = train("mnli", base=tiny_base, store=tmp_path / "b", progress=False, precision="fp32", **FAST)
    wa, wb = _tensors(a.path / "adapter/adapter.safetensors"), _tensors(b.path / "adapter/adapter.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.card["metrics"] == b.card["metrics"] and a.card["final_loss"] == b.card["final_loss"]


@pytest.mark.parametrize("comp,task", [("siqa>xcopa", "xcopa"), ("panx-en>panx", "panx"), ("squad>mlqa", "mlqa"),
                                       ("fuse(mnli,snli)>xnli", "xnli"), ("full:mnli>xnli", "xnli")])
def test_round_trip_save_load_gives_identical_predictions(tiny_base, store, comp, task):
    c = Composition.parse(comp)
    from modxfer.training import _dependencies, _run, _seed_everything

    settings = TrainSettings(base=tiny_base, precision="fp32", **FAST)
    deps = [_run(TrainingPlan(d, settings, None, store), progress=False, force=False) for d in _dependencies(c)]
    plan = TrainingPlan(c, settings, None, store)
    _seed_everything(settings.seed)
    session = _Session(plan, deps)
    _fit(session, plan, progress=False)
    t = get_task(task)
    rows = t.load("test", "de" if task != "xcopa" else "it", limit=12).to_list()
    in_memory = predict(session.runner, t, rows, session.head, tokenizer=plan.bb.tokenizer, precision="fp32",
                        forward=session.forward)
    session.discard()
    session.close()
    train(task, on=c.intermediates, fuse=c.kind == "fusion", full=c.kind == "full", base=tiny_base, store=store,
          progress=False, precision="fp32", **FAST)
    host_for(plan.bb).release()  # evaluate what was saved, not what training left in memory
    ev = Evaluator(tiny_base, precision="fp32", store=store)
    m2, h2 = ev.model_for(c, ev.artifacts_for(c, settings))
    k = ev.trunk_layers(ev.artifacts_for(c, settings)) if c.kind != "full" else 0
    assert predict(m2, t, rows, h2, tokenizer=plan.bb.tokenizer, precision="fp32", forward=ev.forward_for(k)) == in_memory


def test_retrieval_with_and_without_an_intermediate(tiny_base, store):
    train("mnli", base=tiny_base, store=store, progress=False, **FAST)
    ev = Evaluator(tiny_base, store=store)
    bare = ev.evaluate("tatoeba", languages="deu,cmn", examples=40, progress=False, train_examples=48, batch_size=16,
                       epochs=1.0)
    stacked = ev.evaluate("mnli>tatoeba", languages="deu,cmn", examples=40, progress=False, train_examples=48,
                          batch_size=16, epochs=1.0)
    assert [r["lang"] for r in bare.rows] == ["deu", "cmn"]
    for r in bare.rows + stacked.rows:
        assert 0 <= r["metrics"]["accuracy"] <= 100 and "accuracy_en_to_xx" in r["metrics"] and r["n"] == 40
    # The adapter changes the representations, hence (almost surely) the retrieval scores.
    assert bare.rows[0]["artifacts"] == [] and len(stacked.rows[0]["artifacts"]) == 1


def test_evaluate_rows_and_predictions_file(tiny_base, store, tmp_path):
    train("xnli", on=["mnli"], base=tiny_base, store=store, progress=False, **FAST)
    res = Evaluator(tiny_base, store=store).evaluate("mnli>xnli", languages=["de", "zh"], noise=["clean", "typo:0.2"],
                                                     examples=20, out_dir=tmp_path / "out", progress=False,
                                                     train_examples=48, batch_size=16, epochs=1.0)
    assert [(r["lang"], r["noise"]) for r in res.rows] == [("de", "clean"), ("zh", "clean"), ("de", "typo:0.2"),
                                                           ("zh", "typo:0.2")]
    assert all(r["metric"] == "accuracy" and r["n"] == 20 for r in res.rows)
    lines = (tmp_path / "out/predictions/mnli_xnli/xnli/de.clean.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == 20 and first["prediction"] in ("entailment", "neutral", "contradiction")
    assert res.to_pandas().shape[0] == 4


def test_missing_artifact_and_mismatched_backbone(tiny_base, store, tmp_path):
    with pytest.raises(ModxferError, match="no trained artifact for mnli") as e:
        Evaluator(tiny_base, store=store).evaluate("mnli>xnli", languages="de", examples=5, progress=False)
    assert "modxfer train mnli" in e.value.fix
    a = train("mnli", base=tiny_base, store=store, progress=False, **FAST)
    with pytest.raises(AdapterMismatchError, match="trained on backbone"):
        art.load(a.path).check_backbone("0" * 64, 32, "other-model")
    with pytest.raises(AdapterMismatchError, match="hidden size 32"):
        art.load(a.path).check_backbone(a.card["base"]["weights_hash"], 768, "xlm-roberta-base")


def test_bad_settings(tiny_base, store):
    with pytest.raises(ConfigError, match="unknown adapter config 'nope'"):
        train("mnli", base=tiny_base, store=store, config="nope", progress=False, **{**FAST})
    with pytest.raises(ConfigError, match="examples must be positive"):
        train("mnli", base=tiny_base, store=store, progress=False, **{**FAST, "examples": 0})
    with pytest.raises(ConfigError, match="fusion needs at least two"):
        train("xnli", on=["mnli"], fuse=True, base=tiny_base, store=store, progress=False, **FAST)
    with pytest.raises(ConfigError, match="has no training data"):
        train("tatoeba", base=tiny_base, store=store, progress=False, **FAST)


def test_lora_config_works(tiny_base, store):
    a = train("mnli", base=tiny_base, store=store, config="lora", progress=False, **FAST)
    assert a.card["adapter_config"]["architecture"] == "lora"


def test_cli_train_and_evaluate(tiny_base, store, tmp_path):
    runner = CliRunner()
    opts = ["--base", tiny_base, "--examples", "48", "--batch-size", "16", "--store", str(store)]
    res = runner.invoke(cli, ["train", "xnli", "--on", "mnli", "--quiet", *opts])
    assert res.exit_code == 0, res.output
    assert "mnli>xnli" in res.output
    res = runner.invoke(cli, ["evaluate", "mnli>xnli", "--languages", "de,fr", "--eval-examples", "16", "--quiet",
                              "--out", str(tmp_path / "ev"), *opts])
    assert res.exit_code == 0, res.output
    rows = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert [r["lang"] for r in rows] == ["de", "fr"] and "avg" in res.output
    assert not (tmp_path / "ev" / "robustness.json").exists()  # nothing noisy to compare with clean
    res = runner.invoke(cli, ["evaluate", "mnli>xnli", "--languages", "de,fr", "--eval-examples", "16", "--quiet",
                              "--noise", "clean,typo:0.2,adversarial:1", "--out", str(tmp_path / "ev"), *opts],
                        terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "degradation from clean by family" in res.output and "Indo-European (2)" in res.output
    summary = json.loads((tmp_path / "ev" / "robustness.json").read_text())
    assert {r["noise"] for r in summary["degradation"]} == {"typo:0.2", "adversarial:1"}
    res = runner.invoke(cli, ["evaluate", "mnli>xnli", "--languages", "xx", *opts])
    assert res.exit_code == 2 and "no data for language 'xx'" in res.output and "Traceback" not in res.output
    res = runner.invoke(cli, ["train", "xnli", "--on", "mnli", "--fuse", *opts])
    assert res.exit_code == 2 and "fusion needs at least two" in res.output


def test_intermediate_budget_applies_to_intermediates_only(tiny_base, store):
    per_role = dict(FAST, intermediate_examples=64, intermediate_epochs=2.0)
    stack = train("xnli", on=["mnli"], base=tiny_base, store=store, progress=False, **per_role)
    inter = art.find(store, "mnli", stack.card["depends_on"][0])
    assert inter.card["data"]["examples"] == 64 and inter.card["epochs"] == 2.0  # the intermediate's own budget
    assert stack.card["data"]["examples"] == 48 and stack.card["epochs"] == 1.0  # the target keeps the common one
    # Trained alone, the intermediate gets the same budget, so the stack's dependency is that very artifact.
    assert train_key("mnli", base=tiny_base, **per_role) == inter.key
    assert train_key("mnli", base=tiny_base, **FAST) != inter.key
    # Full fine-tuning keeps its own budget, even on an intermediate task.
    full = TrainingPlan(Composition.parse("full:mnli"), TrainSettings(base=tiny_base, **per_role), None, store)
    assert len(full.rows) == 48 and full.s.epochs == 1.0
    with pytest.raises(ConfigError, match="intermediate examples must be positive"):
        TrainSettings(intermediate_examples=0)


def test_target_budget_applies_to_that_targets_adapters_only(tiny_base, store):
    own = dict(FAST, target_budgets=(("xnli", 40, 2.0),))
    plan = TrainingPlan(Composition.parse("mnli>xnli"), TrainSettings(base=tiny_base, **own), None, store)
    assert len(plan.rows) == 40 and plan.s.epochs == 2.0  # the target's own budget
    assert len(plan.deps[0].rows) == 48 and plan.deps[0].s.epochs == 1.0  # its intermediate keeps the common one
    assert plan.deps[0].key == train_key("mnli", base=tiny_base, **FAST)  # so the stack builds on the same artifact
    fused = TrainingPlan(Composition.parse("fuse(mnli,qqp)>xnli"), TrainSettings(base=tiny_base, **own), None, store)
    assert len(fused.rows) == 40
    other = TrainingPlan(Composition.parse("mnli>siqa"), TrainSettings(base=tiny_base, **own), None, store)
    assert len(other.rows) == 48  # another target keeps the common budget
    full = TrainingPlan(Composition.parse("full:xnli"), TrainSettings(base=tiny_base, **own), None, store)
    assert len(full.rows) == 48  # full fine-tuning keeps its own
    assert TrainSettings(target_budgets=[["xnli", None, 3.0]]).for_role("target", "stack", "xnli").epochs == 3.0
    with pytest.raises(ConfigError, match="target budget examples for 'xnli' must be a whole number"):
        TrainSettings(target_budgets=(("xnli", 0, None),))
    with pytest.raises(ConfigError, match="target budget epochs for 'xnli'"):
        TrainSettings(target_budgets=(("xnli", None, True),))
    with pytest.raises(ConfigError, match="given twice"):
        TrainSettings(target_budgets=(("xnli", 8, None), ("xnli", 16, None)))
    with pytest.raises(ConfigError, match="intermediate task"):
        TrainSettings(target_budgets=(("mnli", 8, None),))
    with pytest.raises(ModxferError):
        TrainSettings(target_budgets=(("xnlii", 8, None),))
    assert TrainSettings(target_budgets=(("xnli", None, 2),)).target_budgets == (("xnli", None, 2.0),)
