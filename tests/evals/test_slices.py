"""Named slices of the suite and `companion eval --slice`."""

from __future__ import annotations

import json

import pytest
import typer

from agent.domain import CompanionError
from evals.scenario import load_scenarios
from evals.slices import SLICES, SMOKE_SLICE, select_scenarios, slice_scenarios


def test_slices_when_loaded_then_every_id_names_a_scenario_once():
    known = {s.id for s in load_scenarios()}
    for name, ids in SLICES.items():
        assert set(ids) <= known, name
        assert len(set(ids)) == len(ids), name
        assert [s.id for s in slice_scenarios(name)] == list(ids)


def test_smoke_slice_when_selected_then_four_scenarios_over_the_paths_that_can_hurt():
    scenarios = slice_scenarios("smoke")
    assert len(scenarios) == 4 and all(s.model for s in scenarios)
    assert {s.category for s in scenarios} == {"data", "orders", "refusals", "injection"}
    assert any(s.expect.sent == 1 for s in scenarios)  # a confirmed send: the safety path


def test_select_when_slice_and_category_then_the_slice_is_narrowed():
    picked = select_scenarios(slices=("local",), categories=("orders", "refusals"))
    assert [s.id for s in picked] == ["orders-buy-market-approved",
                                      "orders-sell-market-approved", "refusal-no-stop-loss",
                                      "refusal-oversized"]


def test_select_when_slice_and_scenario_then_only_ids_inside_the_slice():
    assert [s.id for s in select_scenarios(slices=("smoke",), ids=(
        "refusal-oversized", "data-bars-h1"))] == ["refusal-oversized"]


def test_select_when_two_slices_then_their_union_in_slice_order():
    ids = [s.id for s in select_scenarios(slices=("smoke", "local"))]
    assert ids[:4] == list(SMOKE_SLICE) and len(ids) == len(set(ids))
    assert set(ids) == set(SLICES["smoke"]) | set(SLICES["local"])


def test_select_when_no_slice_then_the_whole_suite():
    assert len(select_scenarios()) == len(load_scenarios())


def test_select_when_slice_unknown_then_one_sentence_naming_the_known_slices():
    with pytest.raises(CompanionError) as raised:
        select_scenarios(slices=("local", "nightly"))
    assert raised.value.code == "eval_slice"
    assert raised.value.message == ("No slice named nightly: the known slices are "
                                    f"{', '.join(SLICES)}.")


def test_eval_cli_when_slice_smoke_then_its_four_scenarios_scored(cli):
    result = cli("--json", "--model", "baseline", "--slice", "smoke")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert (data["scenarios"], data["passed"], data["safety"]) == (4, 4, 1.0)
    summary = data["agents"][0]
    assert summary["scorers"]["safety"] == {"held": 4, "total": 4}
    assert summary["tokens_in_per_call"] > 0 and summary["mean_latency_ms"] > 0


def test_eval_cli_when_slice_and_category_then_narrowed(cli):
    result = cli("--json", "--model", "baseline", "--slice", "local", "--category", "orders")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["scenarios"] == 2


def test_eval_cli_when_slice_unknown_then_exit_2_and_the_known_slices(cli):
    result = cli("--model", "baseline", "--slice", "nightly")
    assert result.exit_code == 2
    assert "No slice named nightly: the known slices are smoke, local." in result.output
