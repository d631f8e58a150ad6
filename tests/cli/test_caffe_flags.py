"""The caffe binary's command line as gflags parses it (cli/gflags), and its usage text."""
from __future__ import annotations

import pytest

from fer_caffe_compat.cli import gflags
from fer_caffe_compat.cli.caffe import FLAGS, usage


@pytest.mark.parametrize("argv", [
    ["-solver", "s.prototxt", "train"], ["--solver=s.prototxt", "train"], ["-solver=s.prototxt", "train"],
    ["train", "--solver", "s.prototxt"],
])
def test_the_four_spellings_of_a_flag(argv):
    values, rest = gflags.parse(argv, FLAGS)
    assert values["solver"] == "s.prototxt"
    assert rest == ["train"]


def test_defaults_and_typed_values():
    values, rest = gflags.parse(["test", "-iterations", "7", "--level=-2", "-stage", "a,b", "-weights=x,y"], FLAGS)
    assert (values["iterations"], values["level"], values["stage"], values["weights"]) == (7, -2, "a,b", "x,y")
    assert (values["gpu"], values["sigint_effect"], values["sighup_effect"]) == ("", "stop", "snapshot")
    assert rest == ["test"]


@pytest.mark.parametrize("argv,expected", [
    (["-logtostderr"], True), (["--logtostderr"], True), (["-nologtostderr"], False),
    (["-logtostderr=false"], False), (["--logtostderr=yes"], True), (["-logtostderr=0"], False),
])
def test_boolean_flags(argv, expected):
    assert gflags.parse(argv, FLAGS)[0]["logtostderr"] is expected


def test_double_dash_ends_the_flags():
    values, rest = gflags.parse(["-model", "m", "--", "time", "-gpu"], FLAGS)
    assert values["model"] == "m" and values["gpu"] == ""
    assert rest == ["time", "-gpu"]


def test_a_value_may_start_with_a_dash():
    assert gflags.parse(["-solver", "-odd.prototxt"], FLAGS)[0]["solver"] == "-odd.prototxt"


@pytest.mark.parametrize("argv,message", [
    (["-bogus"], "unknown command line flag 'bogus'"),
    (["--no-such=1"], "unknown command line flag 'no-such'"),
    (["-iterations", "ten"], "illegal value 'ten' specified for int32 flag 'iterations'"),
    (["-level=99999999999"], "illegal value '99999999999' specified for int32 flag 'level'"),
    (["-logtostderr=maybe"], "illegal value 'maybe' specified for bool flag 'logtostderr'"),
    (["train", "-solver"], "flag 'solver' is missing its argument; flag description: "
                           "The solver definition protocol buffer text file."),
])
def test_gflags_refusals(argv, message):
    with pytest.raises(gflags.FlagError) as e:
        gflags.parse(argv, FLAGS)
    assert str(e.value) == message


def test_usage_lists_the_commands_and_wraps_the_flags_like_gflags():
    text = usage()
    assert text.startswith("caffe: command line brew\nusage: caffe <command> <args>\n\ncommands:\n"
                           "  train           train or finetune a model\n")
    assert "\n\n  Flags from tools/caffe.cpp:\n    -gpu (Optional; run in GPU mode" in text
    assert "    -iterations (The number of iterations to run.) type: int32 default: 50\n" in text
    assert ('    -solver (The solver definition protocol buffer text file.) type: string\n'
            '      default: ""\n') in text
    assert all(len(line) < 80 for line in text.splitlines())
    names = [line.split()[0] for line in text.splitlines() if line.startswith("    -")]
    assert names == ["-gpu", "-iterations", "-level", "-model", "-phase", "-sighup_effect", "-sigint_effect",
                     "-snapshot", "-solver", "-stage", "-weights"]  # gflags sorts; glog's flags are not listed
