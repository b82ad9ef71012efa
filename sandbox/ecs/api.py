"""ECS JSON API dispatch. (stub)"""
from .errors import EcsError


def dispatch(plane, action, params):
    raise EcsError("InvalidAction", f"{action} is not supported by the sandbox")
