"""Regenerate mocktools/e6data/_generated from the .proto and .thrift files in proto/.

Run with ``python -m mocktools.e6data.build_proto`` (``make proto``). The output is committed,
so the runtime needs neither grpcio-tools nor the Thrift compiler. Three fixes are applied to
protoc's output, each for a reason:

* imports become package-relative (protoc writes ``import e6x_engine_pb2``, which only works
  with the output folder on ``sys.path``);
* messages are registered in a private descriptor pool, because the proto has no package and
  its names (``AuthenticateRequest`` ...) would clash in the default pool with the same names
  registered by ``e6data_python_connector`` when a test imports both;
* the gencode version guards are relaxed to the floor pyproject declares (grpcio>=1.65,
  protobuf>=5.26): the generated calls exist in those versions, the guards just pin the
  generator's own version.

The Thrift part needs the ``thrift`` compiler (Debian package ``thrift-compiler``); without
it the committed Thrift code is kept and a note is printed (``--require-thrift`` makes that
an error).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO_DIR = HERE / "proto"
OUT_DIR = HERE / "_generated"
PROTOS = ("e6x_engine.proto", "cluster.proto")
THRIFT = "e6x_vector.thrift"
GRPC_FLOOR = "1.65.0"

POOL_MODULE = '''"""Private descriptor pool for the generated e6data messages (see build_proto.py)."""

from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
'''

INIT_MODULE = '''"""Generated code for the e6data mock. Do not edit: run ``python -m mocktools.e6data.build_proto``."""
'''

_VERSION_GUARD = re.compile(
    r"_runtime_version\.ValidateProtobufRuntimeVersion\(\n(?:.*\n)*?\)\n", re.MULTILINE
)


def fix_pb2(text: str) -> str:
    """Private pool, no generator-version pin."""
    text = text.replace(
        "from google.protobuf import runtime_version as _runtime_version\n", ""
    )
    text = _VERSION_GUARD.sub("", text)
    text = text.replace(
        "_descriptor_pool.Default().AddSerializedFile(",
        "_POOL.AddSerializedFile(",
    )
    text = text.replace(
        "# @@protoc_insertion_point(imports)",
        "from ._pool import POOL as _POOL\n# @@protoc_insertion_point(imports)",
    )
    return text


def fix_pb2_grpc(text: str) -> str:
    """Relative imports, version floor from pyproject."""
    text = re.sub(r"^import (\w+_pb2) as (\w+)$", r"from . import \1 as \2", text, flags=re.M)
    text = re.sub(r"GRPC_GENERATED_VERSION = '[^']+'", f"GRPC_GENERATED_VERSION = '{GRPC_FLOOR}'", text)
    return text


def build_protos(out: Path) -> None:
    from grpc_tools import protoc  # build-time only (test extra)

    with tempfile.TemporaryDirectory() as tmp:
        args = ["protoc", f"-I{PROTO_DIR}", f"--python_out={tmp}", f"--grpc_python_out={tmp}"]
        if protoc.main(args + list(PROTOS)) != 0:
            raise SystemExit("protoc failed")
        for path in sorted(Path(tmp).glob("*.py")):
            text = path.read_text()
            text = fix_pb2_grpc(text) if path.name.endswith("_grpc.py") else fix_pb2(text)
            (out / path.name).write_text(text)
            print(f"wrote {out / path.name}")


def build_thrift(out: Path, required: bool) -> None:
    compiler = shutil.which("thrift")
    if compiler is None:
        msg = "thrift compiler not found (apt-get install thrift-compiler); keeping the committed e6x_vector code"
        if required:
            raise SystemExit(msg)
        print(msg)
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([compiler, "-gen", "py", "-out", tmp, str(PROTO_DIR / THRIFT)], check=True)
        target = out / "e6x_vector"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(Path(tmp) / "e6x_vector", target)
        print(f"wrote {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--require-thrift", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "__init__.py").write_text(INIT_MODULE)
    (args.out / "_pool.py").write_text(POOL_MODULE)
    build_protos(args.out)
    build_thrift(args.out, args.require_thrift)
    return 0


if __name__ == "__main__":
    sys.exit(main())
