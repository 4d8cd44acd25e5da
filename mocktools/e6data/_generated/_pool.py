"""Private descriptor pool for the generated e6data messages (see build_proto.py)."""

from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
