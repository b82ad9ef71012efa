"""Our ECS control plane (EC2 launch type); semantics in shared/ecs-semantics.md."""
