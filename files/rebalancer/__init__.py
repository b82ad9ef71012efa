"""The rebalancer Lambda: a cheap gate over EventBridge events, then one engine step."""
