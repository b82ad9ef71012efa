"""EcsControlPlane: state and reconcile loop. (stub, to be replaced)"""


class EcsControlPlane:
    def __init__(self, sandbox):
        self.sandbox = sandbox

    def reconcile(self) -> None:
        pass

    def summary(self) -> dict:
        return {}
