"""Checkpoint order from names and stages, and model sizes from names (issue 13, items 2 and 6)."""

import numpy as np
import pytest

import phasekit as pk
from phasekit.ingest.checkpoints import (
    order_checkpoints,
    size_from_name,
    stage_from_name,
    step_from_name,
)


@pytest.mark.parametrize("name, step", [
    ("stage1-step1000-tokens4B", 1000),          # the old rule read 4 (the last number)
    ("stage1-step100000-tokens420B", 100000),    # the old rule read 420
    ("checkpoint-1500", 1500),
    ("global_step500", 500),
    ("step_1000", 1000),
    ("ckpt-1000", 1000),
    ("ft:gpt-4o-mini:org::id:ckpt-step-100", 100),
    ("iter_0001000", 1000),
    ("750", 750),
    ("stage2-ingredient1-step2000-tokens9B", 2000),
])
def test_step_read_from_recognised_patterns_only(name, step):
    assert step_from_name(name) == step


@pytest.mark.parametrize("name", ["main", "ep2-lr3e-5", "final", "tokens4B", "step100-step200", "v2.5"])
def test_names_without_one_recognised_step_give_none(name):
    assert step_from_name(name) is None


def test_name_without_step_is_an_error_naming_the_argument():
    rows = [{"checkpoint": c, "sample": 0, "token": 1} for c in ("main", "ep2-lr3e-5")]
    with pytest.raises(pk.SchemaError, match="step=") as err:
        pk.open_samples(rows)
    assert "main" in str(err.value)


def test_step_mapping_fixes_names_without_steps():
    rows = [{"checkpoint": c, "sample": 0, "token": 1} for c in ("main", "ep2-lr3e-5")]
    ds = pk.open_samples(rows, step={"main": 900, "ep2-lr3e-5": 200})
    assert ds["checkpoint"].values.tolist() == ["ep2-lr3e-5", "main"]
    assert ds["step"].values.tolist() == [200, 900]


def test_restarting_stage_counters_are_ordered_by_stage_then_step():
    names = ["sft-step200", "stage1-step1000-tokens4B", "dpo-step50", "sft-step100",
             "stage1-step100000-tokens420B", "rl-step10"]
    rows = [{"checkpoint": c, "sample": 0, "token": 1} for c in names]
    ds = pk.open_samples(rows)
    assert ds["checkpoint"].values.tolist() == [
        "stage1-step1000-tokens4B", "stage1-step100000-tokens420B", "sft-step100", "sft-step200",
        "dpo-step50", "rl-step10"]
    assert ds["stage"].values.tolist() == ["pretrain", "pretrain", "sft", "sft", "dpo", "rl"]
    assert ds["stage_step"].values.tolist() == [1000, 100000, 100, 200, 50, 10]
    step = ds["step"].values
    assert np.all(np.diff(step) > 0)                       # monotone control coordinate
    assert step.tolist() == [1000, 100000, 100100, 100200, 100250, 100260]


def test_stage_field_and_custom_stage_order():
    rows = [{"checkpoint": f"{st}-{s}", "stage": st, "step": s, "sample": 0, "token": 0}
            for st in ("warmup", "main") for s in (10, 20)]
    with pytest.raises(pk.SchemaError, match="stage_order="):
        pk.open_samples(rows, stage="stage")
    ds = pk.open_samples(rows, stage="stage", stage_order=["warmup", "main"])
    assert ds["stage"].values.tolist() == ["warmup", "warmup", "main", "main"]
    assert ds["step"].values.tolist() == [10, 20, 30, 40]


def test_continuing_counters_are_not_offset():
    o = order_checkpoints(["stage1-step100", "stage2-step200", "stage2-step300"])
    assert o.step.tolist() == [100, 200, 300] and o.stage_step.tolist() == [100, 200, 300]


def test_same_stage_and_step_twice_is_an_error():
    with pytest.raises(pk.SchemaError, match="same stage and step"):
        order_checkpoints(["step100", "global_step100"])


def test_mixed_stage_words_are_refused_not_guessed():
    with pytest.raises(pk.SchemaError, match="stage="):
        order_checkpoints(["step1000", "sft-step100"])
    assert stage_from_name("tulu3-dpo-step50") == "dpo"
    assert stage_from_name("step1000") is None


@pytest.mark.parametrize("name, size", [
    ("OLMo-2-1B", 1e9), ("allenai/OLMo-2-1124-7B", 7e9), ("pythia-410m", 4.1e8),
    ("Qwen2.5-0.5B-Instruct", 5e8), ("Mixtral-8x7B", 5.6e10), ("gpt2", None), ("7B-from-70B", None),
])
def test_size_from_name(name, size):
    assert size_from_name(name) == size


def test_model_field_becomes_a_model_dim_with_sizes():
    rows = [{"model": m, "checkpoint": f"step{s}", "sample": i, "token": i}
            for m in ("OLMo-2-1B", "OLMo-2-7B") for s in (10, 20) for i in range(3)]
    ds = pk.open_samples(rows)                   # the old reader said "duplicate rows"
    assert ds["token"].dims == ("model", "checkpoint", "sample")
    assert ds["size"].values.tolist() == [1e9, 7e9]
    ds2 = pk.open_samples(rows, sizes={"OLMo-2-1B": 1.2e9, "OLMo-2-7B": 7.3e9})
    assert ds2["size"].values.tolist() == [1.2e9, 7.3e9]
    assert ds2.attrs["size_source"] == "sizes="


def test_name_pattern_reads_model_and_checkpoint_from_the_model_name():
    rows = [{"model": f"OLMo-2-7B@sft-step{s}", "sample": i, "token": i % 2} for s in (5, 10) for i in range(2)]
    ds = pk.open_samples(rows, name_pattern=r"(?P<model>[^@]+)@(?P<checkpoint>.+)", model="model")
    assert ds["model"].values.tolist() == ["OLMo-2-7B"]
    assert ds["checkpoint"].values.tolist() == ["sft-step5", "sft-step10"]
    with pytest.raises(pk.SchemaError, match="does not match"):
        pk.open_samples(rows, name_pattern=r"(?P<checkpoint>ckpt\d+)")
