"""Every kind of bad input raises the package's exception with its fields, never a crash."""

import pickle

import pytest

import llmsim

TRACE_FLAG = "trace_request_generator_config_trace_file"
INTERVAL_FLAG = "trace_request_interval_generator_config_trace_file"
REPLAY = {"request_generator_config_type": "trace", TRACE_FLAG: "t.csv"}


def config_error(config, files=None) -> llmsim.ConfigError:
    with pytest.raises(llmsim.ConfigError) as caught:
        llmsim.run(config, files)
    return caught.value


def trace_error(config, files) -> llmsim.TraceError:
    with pytest.raises(llmsim.TraceError) as caught:
        llmsim.run(config, files)
    return caught.value


def test_bad_value_names_the_flag_with_a_hint():
    e = config_error({"replica_config_model_name": "Llama-3-8"})
    assert e.flag == "replica_config_model_name"
    assert "unknown model" in e.message and "Llama-3-8" in e.message
    assert "did you mean" in e.hint
    assert str(e) == f"--{e.flag}: {e.message} (hint: {e.hint})"
    assert isinstance(e, ValueError) and isinstance(e, llmsim.LlmsimError)


def test_every_error_is_reported():
    e = config_error({"replica_config_tensor_parallel_size": 3, "cluster_config_num_replicas": 0})
    assert {x.flag for x in e.errors} == {"replica_config_tensor_parallel_size", "cluster_config_num_replicas"}
    assert (e.flag, e.message, e.hint) == (e.errors[0].flag, e.errors[0].message, e.errors[0].hint)
    assert len(str(e).splitlines()) == 2
    tp = next(x for x in e.errors if x.flag == "replica_config_tensor_parallel_size")
    assert tp.hint == "choose TP from 1, 2, 4, 8, 16, 32"


def test_unknown_flag_and_choice():
    e = config_error({"replica_scheduler_config_typ": "vllm"})
    assert e.flag == "replica_scheduler_config_typ" and e.message == "unknown flag"
    e = config_error({"replica_scheduler_config_type": "vlm"})
    assert e.flag == "replica_scheduler_config_type" and e.hint == "did you mean 'vllm'?"


def test_malformed_config_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"seed": 1,')
    e = config_error(path)
    assert e.flag == "config" and "not valid JSON" in e.message
    with pytest.raises(FileNotFoundError):
        llmsim.run(tmp_path / "missing.json")
    with pytest.raises(TypeError):
        llmsim.run(["seed", 1])
    with pytest.raises(TypeError):
        llmsim.run({"seed": object()})


def test_files_must_name_file_flags():
    e = config_error({}, {"seed": "x.csv"})
    assert e.flag == "seed" and "not a file flag" in e.message and TRACE_FLAG in e.hint
    e = config_error({}, {"trace_request_generator_config_trace_fil": "x.csv"})
    assert e.flag == "trace_request_generator_config_trace_fil" and TRACE_FLAG in e.hint
    with pytest.raises(TypeError):
        llmsim.run({}, {TRACE_FLAG: 12})


def test_missing_file_names_the_flag_and_the_reason(tmp_path):
    missing = tmp_path / "nowhere.csv"
    e = config_error({**REPLAY, TRACE_FLAG: str(missing)})
    assert e.flag == TRACE_FLAG and str(missing) in e.message and "No such file" in e.message


def test_malformed_trace_names_file_row_and_column():
    e = trace_error(REPLAY, {TRACE_FLAG: b"num_prefill_tokens,num_decode_tokens,arrived_at\n10,5,0.0\n10,x,1.0\n"})
    assert (e.file, e.row, e.column) == ("t.csv", 3, "num_decode_tokens")
    assert "'x' is not a number" in e.message
    assert str(e) == f"t.csv, row 3, column 'num_decode_tokens': {e.message}"


def test_trace_from_a_path(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"timestamp": 0, "input_length": 10, "output_length": 5}\n{"timestamp": 1, "input_length": -3}\n')
    e = trace_error(REPLAY, {TRACE_FLAG: path})
    assert e.file == str(path) and e.row == 2 and e.column is not None


def test_trace_that_is_not_text():
    e = trace_error(REPLAY, {TRACE_FLAG: b"num_prefill_tokens,num_decode_tokens\n10,5\n\xff\xfe,3\n"})
    assert (e.file, e.row, e.column) == ("t.csv", 3, None) and "UTF-8" in e.message


def test_empty_trace():
    e = trace_error(REPLAY, {TRACE_FLAG: b""})
    assert (e.row, e.column, e.message) == (None, None, "the file is empty")


def test_interval_trace():
    config = {"interval_generator_config_type": "trace", INTERVAL_FLAG: "a.csv"}
    e = trace_error(config, {INTERVAL_FLAG: b"arrived_at\n0.5\nabc\n"})
    assert (e.file, e.row, e.column) == ("a.csv", 3, "arrived_at")
    ok = llmsim.run({**config, "synthetic_request_generator_config_num_requests": 3}, {INTERVAL_FLAG: b"arrived_at\n0.5\n1.5\n2.0\n"})
    assert ok.summary["num_completed"] == 3


def test_model_config_that_is_not_json():
    flag = "replica_config_model_config_file"
    e = config_error({flag: "m.json"}, {flag: b"{not json"})
    assert e.flag == flag


def test_write_errors_are_os_errors(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = llmsim.run({"synthetic_request_generator_config_num_requests": 2})
    with pytest.raises(OSError):
        result.write(blocker / "out")


def test_errors_pickle_with_their_fields():
    e = config_error({"replica_config_tensor_parallel_size": 3, "cluster_config_num_replicas": 0})
    back = pickle.loads(pickle.dumps(e))
    assert str(back) == str(e) and back.flag == e.flag and back.hint == e.hint
    assert [(x.flag, x.hint) for x in back.errors] == [(x.flag, x.hint) for x in e.errors]
    t = trace_error(REPLAY, {TRACE_FLAG: b"num_prefill_tokens,num_decode_tokens\n1,x\n"})
    back = pickle.loads(pickle.dumps(t))
    assert (back.file, back.row, back.column, back.message) == (t.file, t.row, t.column, t.message)

