"""The episode engine: the rollout loop, episodes and scenes, worker processes, the results store."""
