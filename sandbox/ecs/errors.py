"""ECS errors in the JSON protocol's shape: {"__type": ..., "message": ...} with HTTP 400.

The codes are the exception names AWS uses; the helpers below keep the messages the same
wherever the same situation arises.

Layer: data, the bottom of ``sandbox/ecs``; imports only the standard library.
"""

from __future__ import annotations


class EcsError(Exception):
    status = 400

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def body(self) -> dict:
        return {"__type": self.code, "message": self.message}


def invalid(message: str) -> EcsError:
    return EcsError("InvalidParameterException", message)


def client(message: str) -> EcsError:
    return EcsError("ClientException", message)


def cluster_not_found() -> EcsError:
    return EcsError("ClusterNotFoundException", "Cluster not found.")


def service_not_found() -> EcsError:
    return EcsError("ServiceNotFoundException", "Service not found.")


def service_not_active() -> EcsError:
    return EcsError("ServiceNotActiveException", "Service was not ACTIVE.")


def resource_not_found(message: str = "The specified resource could not be found.") -> EcsError:
    return EcsError("ResourceNotFoundException", message)


def unknown_action(action: str) -> EcsError:
    return EcsError("InvalidAction", f"The action {action} is not valid for this web service "
                                     "(not supported by the sandbox's ECS).")
