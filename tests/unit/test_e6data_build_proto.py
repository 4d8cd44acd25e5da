"""`python -m mocktools.e6data.build_proto` reproduces the committed generated code."""

import shutil
from pathlib import Path

import pytest

from mocktools.e6data import build_proto

COMMITTED = Path(build_proto.__file__).parent / "_generated"


@pytest.mark.timeout(120)
def test_regenerated_protobuf_code_matches_the_committed_code(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build_proto.shutil, "which", lambda name: None)
    assert build_proto.main(["--out", str(tmp_path)]) == 0
    assert "thrift compiler not found" in capsys.readouterr().out
    for name in ("e6x_engine_pb2.py", "e6x_engine_pb2_grpc.py", "cluster_pb2.py", "cluster_pb2_grpc.py",
                 "_pool.py", "__init__.py"):
        assert (tmp_path / name).read_text() == (COMMITTED / name).read_text(), name
    grpc_code = (tmp_path / "e6x_engine_pb2_grpc.py").read_text()
    assert "from . import e6x_engine_pb2 as" in grpc_code
    assert "GRPC_GENERATED_VERSION = '1.65.0'" in grpc_code
    pb2 = (tmp_path / "e6x_engine_pb2.py").read_text()
    assert "_POOL.AddSerializedFile(" in pb2 and "ValidateProtobufRuntimeVersion" not in pb2
    with pytest.raises(SystemExit, match="thrift compiler not found"):
        build_proto.main(["--out", str(tmp_path), "--require-thrift"])


@pytest.mark.timeout(120)
def test_thrift_code_is_regenerated_when_the_compiler_is_installed(tmp_path):
    if shutil.which("thrift") is None:
        pytest.skip("thrift compiler (Debian package thrift-compiler) not installed")
    build_proto.build_thrift(tmp_path, required=True)
    generated = (tmp_path / "e6x_vector" / "ttypes.py").read_text()
    assert generated == (COMMITTED / "e6x_vector" / "ttypes.py").read_text()


def test_fixups_are_textual_and_idempotent():
    text = "import e6x_engine_pb2 as e6x__engine__pb2\nGRPC_GENERATED_VERSION = '9.9.9'\n"
    fixed = build_proto.fix_pb2_grpc(text)
    assert fixed == "from . import e6x_engine_pb2 as e6x__engine__pb2\nGRPC_GENERATED_VERSION = '1.65.0'\n"
    assert build_proto.fix_pb2_grpc(fixed) == fixed
