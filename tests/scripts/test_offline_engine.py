"""The offline engine: plan form of wire values, fast runs equal plain ones, runs leave nothing behind."""

import gc
import os
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime import rpc

from scripts.hub.offline.engine import (
    SECRET_MARK,
    UNKNOWN_MARK,
    ProgramError,
    ProgramRun,
    run_function,
    run_program,
    to_plan_value,
)
from scripts.hub.offline.project import load_project, load_stack_config

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("wire", "plan"),
    [
        (rpc.UNKNOWN, UNKNOWN_MARK),
        ({rpc._special_sig_key: rpc._special_secret_sig, "value": "hunter2"}, SECRET_MARK),
        ({"a": [3.0, 2.5, {"b": rpc.UNKNOWN}]}, {"a": [3, 2.5, {"b": UNKNOWN_MARK}]}),
        (
            {rpc._special_sig_key: rpc._special_resource_sig, "urn": "urn:x", "id": "i"},
            {"$resourceRef": "urn:x"},
        ),
        ({rpc._special_sig_key: rpc._special_asset_sig, "path": "./app.zip"}, {"$asset": "./app.zip"}),
        ({rpc._special_sig_key: rpc._special_asset_sig, "text": "password=x"}, {"$asset": "<text>"}),
        ({rpc._special_sig_key: rpc._special_output_value_sig, "value": 1.0}, 1),
        ({rpc._special_sig_key: rpc._special_output_value_sig, "value": "s", "secret": True}, SECRET_MARK),
        ({rpc._special_sig_key: rpc._special_output_value_sig}, UNKNOWN_MARK),
        (True, True),
    ],
)
def test_wire_values_take_plan_form(wire: Any, plan: Any) -> None:
    assert to_plan_value(wire) == plan


def _stack_run(stack: str, *, fast: bool) -> list[dict[str, Any]]:
    project = load_project(REPO_ROOT)
    config = load_stack_config(project, stack)
    result = run_program(
        ProgramRun(entry=project.entry, project=project.name, stack=stack, config=config.values, fast=fast)
    )
    return sorted((r.to_document() for r in result.resources), key=lambda d: str(d["urn"]))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_fast_runs_give_the_same_plan_as_the_sdk_as_shipped(stack: str) -> None:
    assert _stack_run(stack, fast=True) == _stack_run(stack, fast=False)


def test_a_run_restores_gc_cwd_path_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_CONFIG", '{"mlops-hub:team": "from-the-shell"}')
    before = (gc.get_threshold(), Path.cwd(), list(__import__("sys").path))
    _stack_run("dev", fast=True)
    assert (gc.get_threshold(), Path.cwd(), list(__import__("sys").path)) == before
    assert os.environ["PULUMI_CONFIG"] == '{"mlops-hub:team": "from-the-shell"}'


def test_config_in_the_callers_environment_does_not_reach_the_program(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PULUMI_CONFIG", '{"scratch:leak": "yes"}')
    seen: dict[str, str | None] = {}

    def body() -> None:
        seen["leak"] = pulumi.Config("scratch").get("leak")

    run_function(body, ProgramRun(entry=REPO_ROOT, project="scratch", stack="t"))
    assert seen == {"leak": None}


def test_outside_preview_resources_get_ids_and_applies_run() -> None:
    seen: list[str] = []

    def body() -> None:
        bucket = aws.s3.Bucket("data")
        bucket.id.apply(seen.append)

    run_function(body, ProgramRun(entry=REPO_ROOT, project="scratch", stack="t", preview=False))
    assert seen == ["data-id"]


def test_in_preview_computed_values_stay_unknown_and_applies_do_not_run() -> None:
    seen: list[str] = []

    def body() -> None:
        bucket = aws.s3.Bucket("data")
        bucket.id.apply(seen.append)
        pulumi.export("arn", bucket.arn)

    result = run_function(body, ProgramRun(entry=REPO_ROOT, project="scratch", stack="t"))
    assert seen == []
    assert result.outputs == {"arn": UNKNOWN_MARK}


def test_a_failing_program_reports_what_it_had_registered() -> None:
    def body() -> None:
        aws.s3.Bucket("first")
        raise RuntimeError("stop here")

    with pytest.raises(ProgramError) as caught:
        run_function(body, ProgramRun(entry=REPO_ROOT, project="scratch", stack="t"))
    assert isinstance(caught.value.cause, RuntimeError)
    assert [r.name for r in caught.value.resources] == ["scratch-t", "first"]


def test_runs_after_a_failure_are_clean() -> None:
    def failing() -> None:
        bucket = aws.s3.Bucket("half")
        bucket.id.apply(lambda _: 1 / 0)
        raise RuntimeError("boom")

    with pytest.raises(ProgramError):
        run_function(failing, ProgramRun(entry=REPO_ROOT, project="scratch", stack="t"))

    def whole() -> None:
        aws.s3.Bucket("whole")

    result = run_function(whole, ProgramRun(entry=REPO_ROOT, project="scratch", stack="t"))
    assert [r.name for r in result.resources] == ["scratch-t", "whole"]
    assert result.diagnostics == []


def test_resource_options_that_differ_from_defaults_are_recorded() -> None:
    def body() -> None:
        aws.s3.Bucket(
            "kept",
            opts=pulumi.ResourceOptions(protect=True, ignore_changes=["tags"], retain_on_delete=True),
        )

    result = run_function(body, ProgramRun(entry=REPO_ROOT, project="scratch", stack="t"))
    options = result.by_urn()["urn:pulumi:t::scratch::aws:s3/bucket:Bucket::kept"].options
    assert options["protect"] is True
    assert options["ignoreChanges"] == ["tags"]
    assert options["retainOnDelete"] is True
