"""taskspread.ecs sandbox: a local AWS (moto plus our own ECS control plane) on loopback."""
