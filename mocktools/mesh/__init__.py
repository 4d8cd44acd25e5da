"""A mesh of many interdependent mock services with discovery (Consul-style) and tracing."""

from .graph import CycleError, DependencyGraph
from .discovery import RegistrationError, ServiceRegistry
from .spans import MeshSpan, SpanStore
from .spec import CallSpec, EndpointSpec, MeshSpec, ServiceSpec, SpecError

__all__ = ["MeshSpec", "ServiceSpec", "EndpointSpec", "CallSpec", "SpecError", "DependencyGraph", "CycleError",
           "ServiceRegistry", "RegistrationError", "MeshSpan", "SpanStore"]

from .mock import MockServiceMesh  # noqa: E402

__all__ += ["MockServiceMesh"]
